using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using QRCoder;

namespace InvexQr.Gateway.QrImages;

/// <summary>
/// Draws QR codes as PNG or SVG. QRCoder computes the module matrix; drawing is ours so that size,
/// quiet-zone margin and colours are exact. PNG is written directly (8-bit RGB, zlib), with no
/// imaging library.
/// </summary>
public static class QrRenderer
{
    private const int QrCoderQuietZone = 4; // QRCoder's matrix includes a 4-module border

    public static byte[] Png(string text, QrImageOptions options)
    {
        var (modules, count) = Modules(text, options.ErrorCorrection);
        var total = count + (2 * options.Margin);
        var scale = Math.Max(1, options.Size / total);
        var width = total * scale;

        // Raw scanlines: a filter byte (0 = none) then RGB triples.
        var stride = 1 + (width * 3);
        var raw = new byte[stride * width];
        for (var y = 0; y < width; y++)
        {
            var row = y * stride;
            var my = (y / scale) - options.Margin;
            for (var x = 0; x < width; x++)
            {
                var mx = (x / scale) - options.Margin;
                var dark = my >= 0 && my < count && mx >= 0 && mx < count && modules[my][mx];
                var color = dark ? options.Foreground : options.Background;
                var p = row + 1 + (x * 3);
                raw[p] = color.R;
                raw[p + 1] = color.G;
                raw[p + 2] = color.B;
            }
        }

        using var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), width);
        header[8] = 8;  // bit depth
        header[9] = 2;  // colour type: RGB
        WriteChunk(png, "IHDR", header);
        using (var compressed = new MemoryStream())
        {
            using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
            {
                zlib.Write(raw);
            }

            WriteChunk(png, "IDAT", compressed.ToArray());
        }

        WriteChunk(png, "IEND", []);
        return png.ToArray();
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
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        png.Write(word);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        png.Write(typeBytes);
        png.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32(typeBytes, data));
        png.Write(word);
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

    private static uint Crc32(byte[] type, byte[] data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in type)
        {
            crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        foreach (var b in data)
        {
            crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return crc ^ 0xFFFFFFFFu;
    }
}
