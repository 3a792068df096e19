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
