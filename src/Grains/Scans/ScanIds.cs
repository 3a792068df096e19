namespace InvexQr.Grains.Scans;

/// <summary>
/// Scan ids: UUIDv7 (RFC 9562), the scan's time in milliseconds followed by random bits, so ids sort by
/// time and index well. <see cref="Guid.CreateVersion7(DateTimeOffset)"/> draws its random bits from the
/// operating system on every call, which the gateway's profile showed at 2 % of a scan; an id is not a
/// secret, only unique, so the 74 random bits come from <see cref="Random.Shared"/> (two ids made in the
/// same millisecond collide with probability 2^-74).
/// </summary>
public static class ScanIds
{
    public static Guid NewId(DateTimeOffset at)
    {
        Span<byte> bytes = stackalloc byte[16];
        Random.Shared.NextBytes(bytes[6..]);
        var milliseconds = at.ToUnixTimeMilliseconds();
        for (var i = 5; i >= 0; i--)
        {
            bytes[i] = (byte)milliseconds;
            milliseconds >>= 8;
        }

        bytes[6] = (byte)(0x70 | (bytes[6] & 0x0F)); // version 7
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F)); // variant 10xx
        return new Guid(bytes, bigEndian: true);
    }
}
