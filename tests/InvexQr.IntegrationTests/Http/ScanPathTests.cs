using System.Net.Http.Json;
using System.Text.Json;
using System.Net;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Http;

/// <summary>The scan path over HTTP: a gateway with its silo in process, a real PostgreSQL.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ScanPathTests(PostgresServer postgres, SharedGatewayHost shared) : IClassFixture<SharedGatewayHost>, IAsyncLifetime
{
    private GatewayHost _deployment = null!;

    public async Task InitializeAsync() => _deployment = await shared.GetAsync(postgres);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Two_thousand_concurrent_scans_all_redirect_and_are_all_stored_exactly_once()
    {
        var created = await _deployment.Http.CreateCodeAsync("https://example.org/landing?campaign=spring");
        var code = created.GetProperty("code").GetString()!;
        Assert.Equal($"https://qr.example.com/r/{code}", created.GetProperty("shortUrl").GetString());

        var results = await _deployment.Http.ScanManyAsync(code, 2000, parallelism: 64);

        Assert.Equal(2000, results.Count(r => r.Status == HttpStatusCode.Found));
        Assert.All(results, r => Assert.Equal("https://example.org/landing?campaign=spring", r.Location));
        Assert.Equal(2000, await _deployment.WaitForScanRowsAsync(code));
        Assert.Equal(2000, await _deployment.ScalarAsync(
            "SELECT count(DISTINCT s.id) FROM qr_scans s JOIN qr_codes c ON c.id = s.qr_code_id WHERE c.code = $1", code));
        Assert.Equal(0, await _deployment.ScalarAsync("SELECT count(*) FROM qr_scans_default"));
        // Per-request framework logging is off by default (LoggingDefaults): 2,000 scans wrote no request lines.
        Assert.DoesNotContain("Microsoft.AspNetCore.Hosting.Diagnostics", _deployment.Logs);
    }

    [Fact]
    public async Task Redirect_is_a_302_that_must_not_be_cached()
    {
        var code = (await _deployment.Http.CreateCodeAsync("https://example.org/a")).GetProperty("code").GetString()!;

        using var response = await _deployment.Http.GetAsync($"/r/{code}");

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal("https://example.org/a", response.Headers.Location?.ToString());
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task Changing_the_target_is_seen_by_the_very_next_scan()
    {
        var code = (await _deployment.Http.CreateCodeAsync("https://example.org/old", "spring-poster")).GetProperty("code").GetString()!;
        using (var first = await _deployment.Http.GetAsync($"/r/{code}"))
        {
            Assert.Equal("https://example.org/old", first.Headers.Location?.ToString());
        }

        using var patch = await _deployment.Http.PatchAsync($"/api/codes/{code}", System.Net.Http.Json.JsonContent.Create(new { targetUrl = "https://example.org/new" }));
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);

        using var next = await _deployment.Http.GetAsync($"/r/{code}");
        Assert.Equal(HttpStatusCode.Found, next.StatusCode);
        Assert.Equal("https://example.org/new", next.Headers.Location?.ToString());
    }

    [Fact]
    public async Task Head_answers_like_get_but_records_no_scan()
    {
        var code = (await _deployment.Http.CreateCodeAsync("https://example.org/head")).GetProperty("code").GetString()!;

        using var head = await _deployment.Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/r/{code}"));
        Assert.Equal(HttpStatusCode.Found, head.StatusCode);
        Assert.Equal("https://example.org/head", head.Headers.Location?.ToString());

        using var get = await _deployment.Http.GetAsync($"/r/{code}");
        Assert.Equal(HttpStatusCode.Found, get.StatusCode);
        Assert.Equal(1, await _deployment.WaitForScanRowsAsync(code));
    }

    [Fact]
    public async Task Disabled_code_answers_410_and_records_nothing_until_enabled_again()
    {
        var code = (await _deployment.Http.CreateCodeAsync("https://example.org/gone")).GetProperty("code").GetString()!;
        using (var disable = await _deployment.Http.PatchAsync($"/api/codes/{code}", System.Net.Http.Json.JsonContent.Create(new { enabled = false })))
        {
            Assert.Equal(HttpStatusCode.OK, disable.StatusCode);
        }

        using (var gone = await _deployment.Http.GetAsync($"/r/{code}"))
        {
            Assert.Equal(HttpStatusCode.Gone, gone.StatusCode);
            Assert.Equal("application/problem+json", gone.Content.Headers.ContentType?.MediaType);
        }

        using (var enable = await _deployment.Http.PatchAsync($"/api/codes/{code}", System.Net.Http.Json.JsonContent.Create(new { enabled = true })))
        {
            Assert.Equal(HttpStatusCode.OK, enable.StatusCode);
        }

        using var back = await _deployment.Http.GetAsync($"/r/{code}");
        Assert.Equal(HttpStatusCode.Found, back.StatusCode);
        Assert.Equal(1, await _deployment.WaitForScanRowsAsync(code));
    }

    [Theory]
    [InlineData("ab")]                       // too short
    [InlineData("has.dot")]                  // character outside the code alphabet
    [InlineData("x%27%20OR%201%3D1--")]      // SQL-looking payload
    [InlineData("..%2F..%2Fetc%2Fpasswd")]   // path traversal
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")] // 65 characters
    [InlineData("unknown-but-wellformed")]
    public async Task Malformed_and_unknown_codes_answer_404_and_store_nothing(string code)
    {
        var scans = await _deployment.ScalarAsync("SELECT count(*) FROM qr_scans");
        var codes = await _deployment.ScalarAsync("SELECT count(*) FROM qr_codes");

        using var response = await _deployment.Http.GetAsync($"/r/{code}");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        await _deployment.FlushAsync();
        Assert.Equal(scans, await _deployment.ScalarAsync("SELECT count(*) FROM qr_scans"));
        Assert.Equal(codes, await _deployment.ScalarAsync("SELECT count(*) FROM qr_codes"));
        // That no code grain is activated for them is shown in-process, where activations can be counted (CodeDirectoryTests).
    }

    [Fact]
    public async Task The_qr_image_decodes_to_the_public_short_url()
    {
        var code = (await _deployment.Http.CreateCodeAsync("https://example.org/print", "print-me")).GetProperty("code").GetString()!;

        using var png = await _deployment.Http.GetAsync($"/api/codes/{code}/qr.png?size=400&ecc=Q&fg=222222");
        Assert.Equal(HttpStatusCode.OK, png.StatusCode);
        Assert.Equal("image/png", png.Content.Headers.ContentType?.MediaType);
        Assert.Equal("https://qr.example.com/r/print-me", await QrDecoder.DecodePngAsync(await png.Content.ReadAsByteArrayAsync()));

        using var svg = await _deployment.Http.GetAsync($"/api/codes/{code}/qr.svg?download=true");
        Assert.Equal("image/svg+xml", svg.Content.Headers.ContentType?.MediaType);
        Assert.Equal("print-me.svg", svg.Content.Headers.ContentDisposition?.FileName);
        Assert.Equal("https://qr.example.com/r/print-me", await QrDecoder.DecodeSvgAsync(await svg.Content.ReadAsStringAsync()));

        using var bad = await _deployment.Http.GetAsync($"/api/codes/{code}/qr.png?size=99999");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
        using var unknown = await _deployment.Http.GetAsync("/api/codes/nobody-has-this/qr.png");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var anonymous = new HttpRequestMessage(HttpMethod.Get, $"/api/codes/{code}/qr.png");
        anonymous.Headers.Authorization = null;
        using var client = _deployment.CreateClient();
        using var unauthorized = await client.SendAsync(anonymous);
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
    }

    [Fact]
    public async Task Codes_are_listed_newest_first_page_by_page_and_deleting_one_removes_its_scans()
    {
        var created = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            created.Add((await _deployment.Http.CreateCodeAsync($"https://example.org/list/{i}", $"list-{i}")).GetProperty("code").GetString()!);
        }

        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await _deployment.Http.GetFromJsonAsync<JsonElement>($"/api/codes?limit=2&q=list-{(cursor is null ? "" : "&cursor=" + cursor)}");
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(c => c.GetProperty("code").GetString()!));
            cursor = page.GetProperty("nextCursor").GetString();
            pages++;
        }
        while (cursor is not null && pages < 10);

        Assert.Equal(3, pages);
        Assert.Equal(Enumerable.Reverse(created), seen);
        Assert.Equal(HttpStatusCode.BadRequest, (await _deployment.Http.GetAsync("/api/codes?cursor=garbage!")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _deployment.Http.GetAsync("/api/codes?limit=1000")).StatusCode);

        var doomed = created[0];
        using (var scan = await _deployment.Http.GetAsync($"/r/{doomed}"))
        {
            Assert.Equal(HttpStatusCode.Found, scan.StatusCode);
        }

        Assert.Equal(1, await _deployment.WaitForScanRowsAsync(doomed));
        var codeId = await _deployment.ScalarAsync("SELECT id FROM qr_codes WHERE code = $1", doomed);
        using (var delete = await _deployment.Http.DeleteAsync($"/api/codes/{doomed}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        Assert.Equal(0, await _deployment.ScalarAsync("SELECT count(*) FROM qr_scans WHERE qr_code_id = $1", codeId));
        Assert.Equal(HttpStatusCode.NotFound, (await _deployment.Http.GetAsync($"/api/codes/{doomed}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _deployment.Http.GetAsync($"/r/{doomed}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _deployment.Http.DeleteAsync($"/api/codes/{doomed}")).StatusCode);
    }

    [Theory]
    [InlineData("{\"targetUrl\": \"javascript:alert(1)\"}", "targetUrl")]
    [InlineData("{\"targetUrl\": \"https://qr.example.com/r/loop\"}", "targetUrl")]
    [InlineData("{\"targetUrl\": \"https://example.org\", \"code\": \"api\"}", "code")]
    [InlineData("{\"targetUrl\": \"https://example.org\", \"code\": \"../etc\"}", "code")]
    public async Task Bad_create_requests_answer_400_naming_the_field(string json, string field)
    {
        using var response = await _deployment.Http.PostAsync("/api/codes", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty(field, out _));
    }

    [Theory]
    [InlineData("not json", "application/json", HttpStatusCode.BadRequest)]
    [InlineData("[1,2]", "application/json", HttpStatusCode.BadRequest)]
    [InlineData("targetUrl=https://example.org", "application/x-www-form-urlencoded", HttpStatusCode.UnsupportedMediaType)]
    public async Task Malformed_bodies_answer_4xx_problems(string body, string contentType, HttpStatusCode expected)
    {
        using var response = await _deployment.Http.PostAsync("/api/codes", new StringContent(body, System.Text.Encoding.UTF8, contentType));

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
}
