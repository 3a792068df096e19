using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace InvexQr.Grains.Protection;

/// <summary>Keyed hashes under the day's salt: the visitor identity for unique counts, and the stored address in <c>hash</c> mode.</summary>
public static class VisitorHash
{
    /// <summary>HMAC-SHA256(salt, address + '\n' + user agent), first 8 bytes.</summary>
    public static ulong? Of(byte[]? salt, string? address, string? userAgent)
    {
        if (salt is null || address is null)
        {
            return null;
        }

        return Hash(salt, $"{address}\n{userAgent}");
    }

    /// <summary>The value stored in place of the address in <see cref="IpStorageMode.Hash"/> mode.</summary>
    public static string? OfAddress(byte[]? salt, string? address) =>
        salt is null || address is null ? null : "h:" + Hash(salt, "ip\n" + address).ToString("x16", System.Globalization.CultureInfo.InvariantCulture);

    private static ulong Hash(byte[] salt, string text)
    {
        var length = Encoding.UTF8.GetMaxByteCount(text.Length);
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var written = Encoding.UTF8.GetBytes(text, buffer);
            Span<byte> mac = stackalloc byte[32];
            HMACSHA256.HashData(salt, buffer.AsSpan(0, written), mac);
            return BinaryPrimitives.ReadUInt64BigEndian(mac);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
