using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using QRCoder;

namespace InvexQr.Gateway.QrImages;

/// <summary>
/// Draws QR codes as PNG, SVG or terminal text. QRCoder computes the module matrix; drawing is ours so that
/// size, quiet-zone margin and colours are exact. PNG is written directly (1-bit palette, zlib), with no imaging
/// library: a 4096-pixel image is about 2 MB before compression, streamed row by row into its one output buffer.
/// </summary>
public static class QrRenderer
{
    private const int QrCoderQuietZone = 4; // QRCoder's matrix includes a 4-module border

    /// <summary>
    /// The smallest PNG size (pixels) that draws every module of <paramref name="text"/> at least one pixel wide,
    /// with the requested margin.
    /// </summary>
    public static int MinimumPngSize(string text, QrImageOptions options) =>
        Modules(text, options.ErrorCorrection).Count + (2 * options.Margin);

    /// <summary>
    /// A PNG of exactly <see cref="QrImageOptions.Size"/> pixels square: every module the same whole number of
    /// pixels, the code centred, the pixels left over added to the quiet zone. Throws when the size is below
    /// <see cref="MinimumPngSize"/>. The image is the returned segment of one buffer (no copy is made of it).
    /// </summary>
    public static ArraySegment<byte> Png(string text, QrImageOptions options)
    {
        var (modules, count) = Modules(text, options.ErrorCorrection);
        var size = options.Size;
        var total = count + (2 * options.Margin);
        var scale = size / total;
        if (scale < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"A {size}-pixel image cannot hold {total} modules.");
        }

        var origin = ((size - (total * scale)) / 2) + (options.Margin * scale);
        var rowBytes = (size + 7) / 8;
        using var png = new MemoryStream(1024 + (rowBytes * size / 32));
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, size);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), size);
        header[8] = 1;  // bit depth
        header[9] = 3;  // colour type: palette (index 0 background, 1 foreground)
        WriteChunk(png, "IHDR", header);
        var bg = options.Background;
        var fg = options.Foreground;
        WriteChunk(png, "PLTE", [bg.R, bg.G, bg.B, fg.R, fg.G, fg.B]);

        // IDAT: its length is known once compressed, so it is patched in afterwards.
        var idat = (int)png.Position;
        png.Write([0, 0, 0, 0, (byte)'I', (byte)'D', (byte)'A', (byte)'T']);
        using (var zlib = new ZLibStream(png, CompressionLevel.Optimal, leaveOpen: true))
        {
            // A scanline: filter byte 0 (none), then one bit per pixel. Rows repeat within a module row.
            var row = new byte[1 + rowBytes];
            var drawn = int.MinValue;
            for (var y = 0; y < size; y++)
            {
                var my = y >= origin ? (y - origin) / scale : -1;
                var moduleRow = my < count ? my : -1;
                if (moduleRow != drawn)
                {
                    Array.Clear(row);
                    if (moduleRow >= 0)
                    {
                        for (var mx = 0; mx < count; mx++)
                        {
                            if (modules[moduleRow][mx])
                            {
                                SetBits(row, origin + (mx * scale), scale);
                            }
                        }
                    }

                    drawn = moduleRow;
                }

                zlib.Write(row);
            }
        }

        var buffer = png.GetBuffer();
        var dataLength = (int)png.Position - idat - 8;
        BinaryPrimitives.WriteInt32BigEndian(buffer.AsSpan(idat), dataLength);
        Span<byte> crc = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(buffer.AsSpan(idat + 4, 4 + dataLength)));
        png.Write(crc);
        WriteChunk(png, "IEND", []);
        return new ArraySegment<byte>(png.GetBuffer(), 0, (int)png.Length);
    }

    private static void SetBits(byte[] row, int x, int count)
    {
        for (var i = x; i < x + count; i++)
        {
            row[1 + (i >> 3)] |= (byte)(0x80 >> (i & 7));
        }
    }

    public static string Svg(string text, QrImageOptions options)
    {
        var (modules, count) = Modules(text, options.ErrorCorrection);
        var total = count + (2 * options.Margin);
        var path = new StringBuilder();
        for (var y = 0; y < count; y++)
        {
            for (var x = 0; x < count; x++)
            {
                if (modules[y][x])
                {
                    path.Append('M').Append(x + options.Margin).Append(',').Append(y + options.Margin).Append("h1v1h-1z");
                }
            }
        }

        return $"""<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {total} {total}" width="{options.Size}" height="{options.Size}" shape-rendering="crispEdges"><rect width="{total}" height="{total}" fill="{options.Background.Hex}"/><path fill="{options.Foreground.Hex}" d="{path}"/></svg>""";
    }

    /// <summary>
    /// The code as text for a terminal: each character is two modules stacked (Unicode half blocks), dark modules
    /// drawn as ink; <see cref="QrImageOptions.Margin"/> applies, size and colours do not.
    /// </summary>
    public static string Text(string text, QrImageOptions options)
    {
        var (modules, count) = Modules(text, options.ErrorCorrection);
        var total = count + (2 * options.Margin);
        bool Dark(int y, int x)
        {
            var (my, mx) = (y - options.Margin, x - options.Margin);
            return my >= 0 && my < count && mx >= 0 && mx < count && modules[my][mx];
        }

        var lines = new StringBuilder();
        for (var y = 0; y < total; y += 2)
        {
            for (var x = 0; x < total; x++)
            {
                lines.Append((Dark(y, x), y + 1 < total && Dark(y + 1, x)) switch
                {
                    (true, true) => '\u2588',   // full block
                    (true, false) => '\u2580',  // upper half
                    (false, true) => '\u2584',  // lower half
                    _ => ' ',
                });
            }

            lines.Append('\n');
        }

        return lines.ToString();
    }

    private static (bool[][] Modules, int Count) Modules(string text, char errorCorrection)
    {
        var level = errorCorrection switch
        {
            'L' => QRCodeGenerator.ECCLevel.L,
            'Q' => QRCodeGenerator.ECCLevel.Q,
            'H' => QRCodeGenerator.ECCLevel.H,
            _ => QRCodeGenerator.ECCLevel.M,
        };
        using var data = QRCodeGenerator.GenerateQrCode(text, level);
        var matrix = data.ModuleMatrix;
        var count = matrix.Count - (2 * QrCoderQuietZone);
        var modules = new bool[count][];
        for (var y = 0; y < count; y++)
        {
            modules[y] = new bool[count];
            for (var x = 0; x < count; x++)
            {
                modules[y][x] = matrix[y + QrCoderQuietZone][x + QrCoderQuietZone];
            }
        }

        return (modules, count);
    }

    private static void WriteChunk(Stream png, string type, byte[] data)
    {
        Span<byte> chunk = stackalloc byte[8 + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(chunk, data.Length);
        Encoding.ASCII.GetBytes(type, chunk[4..8]);
        data.CopyTo(chunk[8..]);
        png.Write(chunk);
        Span<byte> crc = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(chunk[4..]));
        png.Write(crc);
    }

    private static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        var c = (uint)n;
        for (var k = 0; k < 8; k++)
        {
            c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }

        return c;
    }).ToArray();

    /// <summary>PNG's CRC-32 over a chunk's type and data.</summary>
    private static uint Crc32(ReadOnlySpan<byte> typeAndData)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in typeAndData)
        {
            crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return crc ^ 0xFFFFFFFFu;
    }
}
