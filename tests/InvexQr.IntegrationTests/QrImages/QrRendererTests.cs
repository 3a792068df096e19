using InvexQr.Gateway.QrImages;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.QrImages;

/// <summary>Every rendering decodes back to the URL with a real decoder.</summary>
public sealed class QrRendererTests
{
    private const string Url = "https://qr.example.com/r/spring-poster";

    [Theory]
    [InlineData('L', 4, 256)]
    [InlineData('M', 4, 512)]
    [InlineData('Q', 2, 300)]
    [InlineData('H', 8, 1024)]
    [InlineData('M', 1, 64)]
    public async Task Png_decodes_to_the_url(char ecc, int margin, int size)
    {
        var options = QrImageOptions.Default with { ErrorCorrection = ecc, Margin = margin, Size = size };

        var png = QrRenderer.Png(Url, options).ToArray();

        Assert.Equal((size, size), PngSize(png));
        Assert.Equal(Url, await QrDecoder.DecodePngAsync(png));
    }

    [Fact]
    public async Task Coloured_png_and_svg_decode_to_the_url()
    {
        var options = QrImageOptions.Default with { Foreground = new Rgb(0x1a, 0x23, 0x7e), Background = new Rgb(0xff, 0xf8, 0xe1) };

        Assert.Equal(Url, await QrDecoder.DecodePngAsync(QrRenderer.Png(Url, options).ToArray()));
        Assert.Equal(Url, await QrDecoder.DecodeSvgAsync(QrRenderer.Svg(Url, options)));
    }

    [Theory]
    [InlineData('M', 4)]
    [InlineData('H', 1)]
    public async Task Text_decodes_to_the_url(char ecc, int margin)
    {
        var text = QrRenderer.Text(Url, QrImageOptions.Default with { ErrorCorrection = ecc, Margin = margin });

        Assert.Equal(Url, await QrDecoder.DecodeTextAsync(text));
    }

    [Theory]
    [InlineData(500, 4)]
    [InlineData(600, 4)]
    [InlineData(4096, 0)]
    [InlineData(333, 16)]
    public async Task The_png_is_exactly_the_requested_size_with_whole_pixel_modules(int size, int margin)
    {
        var options = QrImageOptions.Default with { Size = size, Margin = margin };

        var png = QrRenderer.Png(Url, options).ToArray();

        Assert.Equal((size, size), PngSize(png));
        Assert.Equal(Url, await QrDecoder.DecodePngAsync(png));
    }

    [Fact]
    public void A_size_below_one_pixel_per_module_is_refused()
    {
        var longUrl = Url + "?" + new string('x', 200);
        var options = QrImageOptions.Default with { Size = 64, Margin = 16, ErrorCorrection = 'H' };
        var minimum = QrRenderer.MinimumPngSize(longUrl, options);

        Assert.True(minimum > 64, $"minimum {minimum}");
        Assert.Throws<ArgumentOutOfRangeException>(() => QrRenderer.Png(longUrl, options));
        Assert.Equal((minimum, minimum), PngSize(QrRenderer.Png(longUrl, options with { Size = minimum }).ToArray()));
    }

    [Fact]
    public void The_gateway_ceiling_lowers_the_largest_size()
    {
        Assert.NotNull(QrImageOptions.Parse("2048", null, null, null, null, maxSize: 2048).Options);
        var (options, errors) = QrImageOptions.Parse("2049", null, null, null, null, maxSize: 2048);
        Assert.Null(options);
        Assert.Contains("2048", errors["size"][0]);
    }

    private static (int Width, int Height) PngSize(byte[] png) =>
        (System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));

    [Theory]
    [InlineData("10", null, null, null, null, "size")]
    [InlineData("5000", null, null, null, null, "size")]
    [InlineData("abc", null, null, null, null, "size")]
    [InlineData(null, "-1", null, null, null, "margin")]
    [InlineData(null, "17", null, null, null, "margin")]
    [InlineData(null, null, "X", null, null, "ecc")]
    [InlineData(null, null, null, "red", null, "fg")]
    [InlineData(null, null, null, null, "#12345", "bg")]
    [InlineData(null, null, null, "eeeeee", "ffffff", "fg")] // too little contrast to scan
    public void Out_of_bounds_parameters_are_named(string? size, string? margin, string? ecc, string? fg, string? bg, string field)
    {
        var (options, errors) = QrImageOptions.Parse(size, margin, ecc, fg, bg);

        Assert.Null(options);
        Assert.Contains(field, errors.Keys);
    }
}
