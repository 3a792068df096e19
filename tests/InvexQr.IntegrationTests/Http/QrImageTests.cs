using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using InvexQr.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace InvexQr.IntegrationTests.Http;

/// <summary>QR images over HTTP: exact sizes, HEAD, ETag, and bounded memory under parallel maximum-size requests.</summary>
[Collection(PostgresCollection.Name)]
public sealed partial class QrImageTests(PostgresServer postgres, SharedGatewayHost shared, ITestOutputHelper output) : IClassFixture<SharedGatewayHost>, IAsyncLifetime
{
    // The share of the gateway's memory limit (k8s: 512 MiB dev, 1 GiB prod) that QR images may take.
    private const long MemoryBudgetBytes = 64L * 1024 * 1024;
    private const int Burst = 25;

    private GatewayHost _deployment = null!;

    public async Task InitializeAsync() => _deployment = await shared.GetAsync(postgres, new Dictionary<string, string?>
    {
        // Each test is its own owner, with a burst of its own; one token a minute after it.
        ["QrImages:RenderBurstPerOwner"] = Burst.ToString(),
        ["QrImages:RendersPerOwnerPerMinute"] = "1",
    });

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Png_and_svg_are_the_requested_size_to_the_pixel_and_default_to_the_same_512()
    {
        using var http = await _deployment.CreateOwnerClientAsync("sizes");
        var code = (await http.CreateCodeAsync("https://example.org/sizes")).GetProperty("code").GetString()!;

        foreach (var size in new[] { 600, 500, 257, 64 })
        {
            var png = await http.GetByteArrayAsync($"/api/codes/{code}/qr.png?size={size}&margin=1");
            Assert.Equal((size, size), PngSize(png));
            Assert.Equal($"https://qr.example.com/r/{code}", await QrDecoder.DecodePngAsync(png));
        }

        Assert.Equal((512, 512), PngSize(await http.GetByteArrayAsync($"/api/codes/{code}/qr.png")));
        var svg = await http.GetStringAsync($"/api/codes/{code}/qr.svg");
        Assert.Matches(SvgSize(), svg);
        Assert.Equal("512", SvgSize().Match(svg).Groups[1].Value);
        Assert.Equal("512", SvgSize().Match(svg).Groups[2].Value);
    }

    [Fact]
    public async Task Head_answers_like_get_and_an_etag_revalidates_to_304()
    {
        using var http = await _deployment.CreateOwnerClientAsync("etag");
        var code = (await http.CreateCodeAsync("https://example.org/etag")).GetProperty("code").GetString()!;

        foreach (var format in new[] { "png", "svg", "txt" })
        {
            var path = $"/api/codes/{code}/qr.{format}?size=300";
            using var get = await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            var etag = get.Headers.ETag;
            Assert.NotNull(etag);
            Assert.Contains("no-cache", get.Headers.CacheControl!.ToString());

            using var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Equal(get.Content.Headers.ContentType, head.Content.Headers.ContentType);
            Assert.Equal(get.Content.Headers.ContentLength, head.Content.Headers.ContentLength);
            Assert.Equal(etag, head.Headers.ETag);

            var conditional = new HttpRequestMessage(HttpMethod.Get, path);
            conditional.Headers.IfNoneMatch.Add(etag!);
            using var notModified = await http.SendAsync(conditional);
            Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
            Assert.Empty(await notModified.Content.ReadAsByteArrayAsync());

            // Other parameters are another image, with another tag.
            using var other = await http.GetAsync(path + "&margin=2");
            Assert.NotEqual(etag, other.Headers.ETag);
        }
    }

    [Theory]
    [InlineData("size=abc", "size")]
    [InlineData("size=4097", "size")]
    [InlineData("download=maybe", "download")]
    public async Task Bad_parameters_are_400_problems_naming_the_parameter(string query, string name)
    {
        var code = (await _deployment.Http.CreateCodeAsync("https://example.org/bad-qr")).GetProperty("code").GetString()!;

        using var response = await _deployment.Http.GetAsync($"/api/codes/{code}/qr.png?{query}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(name, await response.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task An_owner_beyond_its_burst_gets_429_with_retry_after()
    {
        using var http = await _deployment.CreateOwnerClientAsync("greedy");
        var code = (await http.CreateCodeAsync("https://example.org/greedy")).GetProperty("code").GetString()!;

        for (var i = 0; i < Burst; i++)
        {
            using var ok = await http.GetAsync($"/api/codes/{code}/qr.svg?size={100 + i}");
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var refused = await http.GetAsync($"/api/codes/{code}/qr.svg?size=99");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(refused.Headers.RetryAfter);
    }

    [Fact]
    public async Task Twenty_parallel_maximum_size_pngs_stay_within_the_memory_budget()
    {
        using var http = await _deployment.CreateOwnerClientAsync("big-prints");
        var code = (await http.CreateCodeAsync("https://example.org/big")).GetProperty("code").GetString()!;
        var path = $"/api/codes/{code}/qr.png?size=4096&margin=0";
        Assert.Equal((4096, 4096), PngSize(await http.GetByteArrayAsync(path)));

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var (heapBefore, workingSetBefore) = (GC.GetTotalMemory(false), process.WorkingSet64);
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var (heapPeak, workingSetPeak) = (heapBefore, workingSetBefore);
        using var done = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                process.Refresh();
                heapPeak = Math.Max(heapPeak, GC.GetTotalMemory(false));
                workingSetPeak = Math.Max(workingSetPeak, process.WorkingSet64);
                await Polling.Pause(2);
            }
        });

        // Each request another colour: twenty different images, none answered from a cache.
        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            http.GetAsync($"{path}&fg={i:x2}0000")));
        done.Cancel();
        await sampler;
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        foreach (var response in responses)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal((4096, 4096), PngSize(await response.Content.ReadAsByteArrayAsync()));
            response.Dispose();
        }

        var summary = $"heap +{(heapPeak - heapBefore) >> 20} MiB, working set +{(workingSetPeak - workingSetBefore) >> 20} MiB, "
            + $"allocated {allocated >> 20} MiB in all";
        output.WriteLine(summary);
        Assert.True(heapPeak - heapBefore < MemoryBudgetBytes, summary);
        Assert.True(workingSetPeak - workingSetBefore < MemoryBudgetBytes, summary);
        // Sampling can miss a short peak; what was allocated in all cannot hide one (no 50 MB bitmaps, no copies).
        Assert.True(allocated < MemoryBudgetBytes, summary);
    }

    private static (int Width, int Height) PngSize(byte[] png) =>
        (System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));

    [GeneratedRegex("""<svg [^>]*width="(\d+)" height="(\d+)" """)]
    private static partial Regex SvgSize();
}
