using System.Numerics;

namespace InvexQr.Silo.Analytics;

/// <summary>
/// Which active codes hand over their unique-visitor sketch at a rollup flush. A sketch is written whole
/// (<see cref="Grains.Analytics.HyperLogLog.RegisterCount"/> bytes) whenever it changed. With an audience of many
/// people, every one of 10,000 busy codes had a changed sketch at every flush: 20 MB copied, sent and rewritten
/// each time, and alive until written, so the silo's collections promoted it (pauses of 60–760 ms, bench/profile.sh
/// with varied clients). So a flush takes at most about <see cref="MaxPerFlush"/> of them: with more changed, codes
/// take turns by id modulo a power-of-two stride, and each is written at least every stride flushes. With up to
/// <see cref="MaxPerFlush"/> changed sketches (any light load) every one is written at every flush, as before.
/// </summary>
public static class SketchTurns
{
    public const int MaxPerFlush = 2000;

    /// <summary>Every how many flushes a code's sketch is taken, with <paramref name="changed"/> sketches changed.</summary>
    public static int Stride(int changed) =>
        (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, (changed + MaxPerFlush - 1) / MaxPerFlush));

    /// <summary>Whether flush number <paramref name="flush"/> takes the sketch of code <paramref name="codeId"/>.</summary>
    public static bool Takes(long codeId, long flush, int stride) => (codeId & (stride - 1)) == (flush & (stride - 1));
}
