using System.Numerics;

namespace InvexQr.Grains.Analytics;

/// <summary>
/// A HyperLogLog cardinality sketch (2^11 one-byte registers, standard error ≈ 1.04/√2048 ≈ 2.3 %).
/// Counts distinct visitor hashes per code and day in 2 KB whatever the traffic; sketches merge by taking the
/// larger register, which is how a period's unique visitors are estimated and why they are stored register by register
/// (<c>qr_rollup_visitor_registers</c>): any number of writers, in any order, any number of times, give the same sketch.
/// Input hashes must already be uniformly distributed (they are keyed HMAC outputs).
/// </summary>
public sealed class HyperLogLog
{
    public const int Precision = 11;
    public const int RegisterCount = 1 << Precision;

    private readonly byte[] _registers;

    public HyperLogLog() => _registers = new byte[RegisterCount];

    private HyperLogLog(byte[] registers) => _registers = registers;

    /// <summary>Reads a sketch written by <see cref="ToBytes"/>; null when the bytes are not one.</summary>
    public static HyperLogLog? FromBytes(ReadOnlySpan<byte> bytes) =>
        bytes.Length == RegisterCount ? new HyperLogLog(bytes.ToArray()) : null;

    public byte[] ToBytes() => (byte[])_registers.Clone();

    /// <summary>A sketch from stored registers (register index, rank); unknown indexes and ranks of 0 are ignored.</summary>
    public static HyperLogLog FromRegisters(IEnumerable<(int Register, byte Rank)> registers)
    {
        var sketch = new HyperLogLog();
        foreach (var (register, rank) in registers)
        {
            sketch.Raise(register, rank);
        }

        return sketch;
    }

    /// <summary>The register a 64-bit hash falls into and the rank it carries there.</summary>
    public static (int Register, byte Rank) Locate(ulong hash)
    {
        var index = (int)(hash >> (64 - Precision));
        var rest = (hash << Precision) | (1UL << (Precision - 1)); // guard bit bounds the rank
        return (index, (byte)(BitOperations.LeadingZeroCount(rest) + 1));
    }

    /// <summary>Adds a 64-bit hash; true when a register changed.</summary>
    public bool Add(ulong hash)
    {
        var (index, rank) = Locate(hash);
        return Raise(index, rank);
    }

    /// <summary>Raises a register to <paramref name="rank"/> if that is higher; true when it changed.</summary>
    public bool Raise(int register, byte rank)
    {
        if ((uint)register >= RegisterCount || rank <= _registers[register])
        {
            return false;
        }

        _registers[register] = rank;
        return true;
    }

    /// <summary>The registers that hold something, in index order.</summary>
    public IEnumerable<(int Register, byte Rank)> NonZeroRegisters()
    {
        for (var i = 0; i < RegisterCount; i++)
        {
            if (_registers[i] != 0)
            {
                yield return (i, _registers[i]);
            }
        }
    }

    public void Merge(HyperLogLog other)
    {
        for (var i = 0; i < RegisterCount; i++)
        {
            if (other._registers[i] > _registers[i])
            {
                _registers[i] = other._registers[i];
            }
        }
    }

    public long Estimate()
    {
        double sum = 0;
        var zeros = 0;
        foreach (var register in _registers)
        {
            sum += 1.0 / (1UL << register);
            if (register == 0)
            {
                zeros++;
            }
        }

        const double m = RegisterCount;
        var alpha = 0.7213 / (1 + (1.079 / m));
        var raw = alpha * m * m / sum;
        // Small cardinalities: linear counting on the empty registers is far more accurate.
        if (raw <= 2.5 * m && zeros > 0)
        {
            return (long)Math.Round(m * Math.Log(m / zeros));
        }

        return (long)Math.Round(raw);
    }
}
