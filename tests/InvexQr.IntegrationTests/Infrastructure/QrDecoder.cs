namespace InvexQr.IntegrationTests.Infrastructure;

/// <summary>A real QR decoder (zbarimg from zbar-tools; SVG rendered to PNG by rsvg-convert first).</summary>
public static class QrDecoder
{
    public static async Task<string> DecodePngAsync(byte[] png)
    {
        var file = Path.Combine(Path.GetTempPath(), $"invexqr-{Guid.NewGuid():N}.png");
        await File.WriteAllBytesAsync(file, png);
        try
        {
            return await Shell.RunAsync("zbarimg", "--raw", "-q", file);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>
    /// Decodes a QR drawn as text with Unicode half blocks (<c>qr.txt</c>, run.sh's terminal QR): the lines made of
    /// blocks and spaces only are turned back into modules, drawn as a grey-scale PGM and read by zbarimg.
    /// </summary>
    public static async Task<string> DecodeTextAsync(string text)
    {
        var all = System.Text.RegularExpressions.Regex.Replace(text, "\u001b\\[[0-9;]*m", "")
            .Split('\n')
            .Select(line => line.TrimEnd('\r'))
            .ToList();
        static bool Drawn(string line) =>
            line.Any(c => c != ' ') && line.All(c => c is ' ' or '\u2580' or '\u2584' or '\u2588');
        var (first, last) = (all.FindIndex(Drawn), all.FindLastIndex(Drawn));
        if (first < 0)
        {
            throw new InvalidOperationException("No QR block found in:\n" + text);
        }

        // Blank lines inside the block are rows of light modules: keep them.
        var lines = all.GetRange(first, last - first + 1);

        const int Scale = 6, Border = 4;
        var columns = lines.Max(l => l.Length);
        var (width, height) = ((columns + (2 * Border)) * Scale, ((lines.Count * 2) + (2 * Border)) * Scale);
        var pixels = new byte[width * height];
        Array.Fill(pixels, (byte)255);
        for (var row = 0; row < lines.Count; row++)
        {
            for (var col = 0; col < lines[row].Length; col++)
            {
                var c = lines[row][col];
                var (top, bottom) = (c is '\u2580' or '\u2588', c is '\u2584' or '\u2588');
                for (var half = 0; half < 2; half++)
                {
                    if (half == 0 ? !top : !bottom)
                    {
                        continue;
                    }

                    var (y0, x0) = (((row * 2) + half + Border) * Scale, (col + Border) * Scale);
                    for (var y = y0; y < y0 + Scale; y++)
                    {
                        Array.Fill(pixels, (byte)0, (y * width) + x0, Scale);
                    }
                }
            }
        }

        var file = Path.Combine(Path.GetTempPath(), $"invexqr-{Guid.NewGuid():N}.pgm");
        await using (var pgm = File.Create(file))
        {
            await pgm.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"P5\n{width} {height}\n255\n"));
            await pgm.WriteAsync(pixels);
        }

        try
        {
            return await Shell.RunAsync("zbarimg", "--raw", "-q", file);
        }
        finally
        {
            File.Delete(file);
        }
    }

    public static async Task<string> DecodeSvgAsync(string svg)
    {
        var svgFile = Path.Combine(Path.GetTempPath(), $"invexqr-{Guid.NewGuid():N}.svg");
        var pngFile = Path.ChangeExtension(svgFile, ".png");
        await File.WriteAllTextAsync(svgFile, svg);
        try
        {
            await Shell.RunAsync("rsvg-convert", "-o", pngFile, svgFile);
            return await Shell.RunAsync("zbarimg", "--raw", "-q", pngFile);
        }
        finally
        {
            File.Delete(svgFile);
            File.Delete(pngFile);
        }
    }
}
