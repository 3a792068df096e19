using InvexQr.Abstractions;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using InvexQr.Grains.Scans;

namespace InvexQr.Silo.Hosting;

/// <summary>
/// The bytes of a spool segment. A segment starts with <see cref="Magic"/> and the database's
/// instance id, then holds one frame per spooled batch:
/// <c>[payload length u32][CRC-32 of payload u32][payload]</c>, the payload being the scans.
/// The frame is what one fsync makes durable: a frame torn by a crash fails its length or CRC
/// check and is known never to have been acknowledged.
/// </summary>
public static class SpoolFormat
{
    /// <summary>"IQRSPL" + format version 1.</summary>
    public static ReadOnlySpan<byte> Magic => "IQRSPL\0\u0001"u8;

    public const int HeaderSize = 8 + 16;
    public const int FrameHeaderSize = 8;

    /// <summary>No batch comes near this; a larger length can only be a torn or damaged frame.</summary>
    public const int MaxPayload = 256 * 1024 * 1024;

    private const byte HasLocation = 1, HasClient = 2, IsBot = 4, IsRepeat = 8, HasVisitor = 16, HasRoute = 32;

    public static byte[] Header(Guid instance)
    {
        var header = new byte[HeaderSize];
        Magic.CopyTo(header);
        instance.TryWriteBytes(header.AsSpan(8));
        return header;
    }

    /// <summary>The instance id in a segment's header, or null when the header is not ours.</summary>
    public static Guid? ReadHeader(ReadOnlySpan<byte> header) =>
        header.Length >= HeaderSize && header[..8].SequenceEqual(Magic) ? new Guid(header.Slice(8, 16)) : null;

    /// <summary>One frame holding the batch.</summary>
    public static byte[] Frame(IReadOnlyList<ScanRecord> scans)
    {
        using var payload = new MemoryStream(128 * scans.Count + 16);
        payload.Position = FrameHeaderSize;
        using (var writer = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(scans.Count);
            foreach (var scan in scans)
            {
                Write(writer, scan);
            }
        }

        var frame = payload.ToArray();
        var body = frame.AsSpan(FrameHeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)body.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(4), Crc32.HashToUInt32(body));
        return frame;
    }

    /// <summary>What reading a segment's frames found.</summary>
    /// <param name="Scans">Every scan of every intact frame, in order.</param>
    /// <param name="TornTail">Bytes after the last intact frame that end the file (a crash mid-write: never acknowledged).</param>
    /// <param name="Damaged">An intact-looking file with a bad frame in the middle: the frames after it are not read.</param>
    public sealed record Contents(List<ScanRecord> Scans, long TornTail, bool Damaged);

    /// <summary>Reads the frames that follow the header.</summary>
    public static Contents ReadFrames(ReadOnlySpan<byte> data)
    {
        var scans = new List<ScanRecord>();
        var offset = 0;
        while (offset < data.Length)
        {
            var rest = data[offset..];
            if (rest.Length < FrameHeaderSize)
            {
                return new Contents(scans, rest.Length, false);
            }

            var length = BinaryPrimitives.ReadUInt32LittleEndian(rest);
            var crc = BinaryPrimitives.ReadUInt32LittleEndian(rest[4..]);
            if (length > MaxPayload || FrameHeaderSize + (long)length > rest.Length)
            {
                return new Contents(scans, rest.Length, false); // the last frame, cut short
            }

            var body = rest.Slice(FrameHeaderSize, (int)length);
            if (Crc32.HashToUInt32(body) != crc)
            {
                // A bad last frame is a torn write; a bad frame with more after it is damage.
                var last = FrameHeaderSize + length == rest.Length;
                return new Contents(scans, last ? rest.Length : 0, !last);
            }

            using var reader = new BinaryReader(new MemoryStream(body.ToArray()), Encoding.UTF8);
            var count = reader.ReadInt32();
            for (var i = 0; i < count; i++)
            {
                scans.Add(Read(reader));
            }

            offset += FrameHeaderSize + (int)length;
        }

        return new Contents(scans, 0, false);
    }

    private static void Write(BinaryWriter writer, ScanRecord scan)
    {
        Span<byte> id = stackalloc byte[16];
        scan.Id.TryWriteBytes(id);
        writer.Write(id);
        writer.Write(scan.CodeId);
        writer.Write(scan.ScannedAt.UtcTicks);
        var flags = (byte)((scan.Location is null ? 0 : HasLocation) | (scan.Client is null ? 0 : HasClient)
            | (scan.Client?.IsBot == true ? IsBot : 0) | (scan.IsRepeat ? IsRepeat : 0) | (scan.VisitorHash is null ? 0 : HasVisitor) | (scan.Route is null ? 0 : HasRoute));
        writer.Write(flags);
        WriteText(writer, scan.IpAddress);
        WriteText(writer, scan.UserAgent);
        WriteText(writer, scan.Referer);
        if (scan.Location is { } location)
        {
            WriteText(writer, location.CountryCode);
            WriteText(writer, location.CountryName);
            WriteText(writer, location.Subdivision);
            WriteText(writer, location.City);
            WriteNumber(writer, location.Latitude);
            WriteNumber(writer, location.Longitude);
        }

        if (scan.Client is { } client)
        {
            WriteText(writer, client.Browser);
            WriteText(writer, client.Os);
            writer.Write(client.DeviceType);
        }

        if (scan.VisitorHash is { } visitor)
        {
            writer.Write(visitor);
        }

        if (scan.Route is { } route)
        {
            writer.Write(route);
        }
    }

    private static ScanRecord Read(BinaryReader reader)
    {
        var id = new Guid(reader.ReadBytes(16));
        var codeId = reader.ReadInt64();
        var scannedAt = new DateTimeOffset(reader.ReadInt64(), TimeSpan.Zero);
        var flags = reader.ReadByte();
        var ip = ReadText(reader);
        var userAgent = ReadText(reader);
        var referer = ReadText(reader);
        GeoLocation? location = null;
        if ((flags & HasLocation) != 0)
        {
            location = new GeoLocation(
                ReadText(reader), ReadText(reader), ReadText(reader), ReadText(reader), ReadNumber(reader), ReadNumber(reader));
        }

        ClientInfo? client = null;
        if ((flags & HasClient) != 0)
        {
            client = new ClientInfo(ReadText(reader), ReadText(reader), reader.ReadString(), (flags & IsBot) != 0);
        }

        long? visitor = (flags & HasVisitor) != 0 ? reader.ReadInt64() : null;
        var route = (flags & HasRoute) != 0 ? reader.ReadString() : null;
        return new ScanRecord(id, codeId, scannedAt, ip, userAgent, referer, location, client, (flags & IsRepeat) != 0, visitor, route);
    }

    private static void WriteText(BinaryWriter writer, string? value)
    {
        writer.Write(value is not null);
        if (value is not null)
        {
            writer.Write(value);
        }
    }

    private static string? ReadText(BinaryReader reader) => reader.ReadBoolean() ? reader.ReadString() : null;

    private static void WriteNumber(BinaryWriter writer, double? value)
    {
        writer.Write(value.HasValue);
        if (value is { } v)
        {
            writer.Write(v);
        }
    }

    private static double? ReadNumber(BinaryReader reader) => reader.ReadBoolean() ? reader.ReadDouble() : null;
}
