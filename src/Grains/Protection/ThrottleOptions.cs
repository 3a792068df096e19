namespace InvexQr.Grains.Protection;

/// <summary>
/// Per-code, per-address throttling defaults (configuration section <c>Throttle</c>). A token bucket
/// of <see cref="Burst"/> scans refilled at <see cref="PerMinute"/> per minute: one address can scan
/// a code <c>Burst</c> times in a row, then <c>PerMinute</c> times a minute. The defaults let an office
/// behind one NAT address scan a poster one person after another (30 in a row, then one every 2 s)
/// while a script hammering one code gets 429s after its first 30.
/// </summary>
public sealed class ThrottleOptions
{
    public int Burst { get; set; } = 30;

    public int PerMinute { get; set; } = 30;

    /// <summary>Addresses remembered per code; beyond it the least recently seen is forgotten (bounded memory).</summary>
    public int MaxTrackedClients { get; set; } = 10_000;

    /// <summary>A scan from the same address within this window is recorded as a repeat.</summary>
    public TimeSpan RepeatWindow { get; set; } = TimeSpan.FromMinutes(30);
}
