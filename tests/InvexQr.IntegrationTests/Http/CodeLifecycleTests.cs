using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Http;

/// <summary>Tags, expiry and scan budgets through the real API and the real /r/ path (a gateway with its silo in process).</summary>
[Collection(PostgresCollection.Name)]
public sealed class CodeLifecycleTests(PostgresServer postgres, SharedGatewayHost shared) : IClassFixture<SharedGatewayHost>, IAsyncLifetime
{
    private GatewayHost _deployment = null!;

    public async Task InitializeAsync() => _deployment = await shared.GetAsync(postgres);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Deleting_a_code_while_it_is_scanned_leaves_no_scan_or_rollup_behind()
    {
        var code = Code(await CreateAsync(new { targetUrl = "https://example.org/doomed" }));
        var id = await _deployment.ScalarAsync("SELECT id FROM qr_codes WHERE code = $1", code);
        var load = new ScanLoad(_deployment.Http, [code], workers: 16);
        await load.WaitForRedirectsAsync(300);
        using (var delete = await _deployment.Http.DeleteAsync($"/api/codes/{code}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        // Scans go on after the delete until some have been answered 404; then both sinks settle what they held for it.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (load.ByStatus.GetValueOrDefault(HttpStatusCode.NotFound) < 20 && DateTime.UtcNow < deadline && await Polling.Pause(20))
        {
        }

        await load.StopAsync();
        await _deployment.FlushAsync();
        foreach (var table in new[] { "qr_scans", "qr_rollup_hourly", "qr_rollup_dims_hourly", "qr_rollup_dims_daily", "qr_rollup_visitor_registers" })
        {
            Assert.Equal(0, await _deployment.ScalarAsync($"SELECT count(*) FROM {table} WHERE qr_code_id = $1", id));
        }

        Assert.True(load.ByStatus.GetValueOrDefault(HttpStatusCode.NotFound) > 0, load.Describe());
    }

    [Fact]
    public async Task Codes_are_listed_by_tag_and_in_either_order()
    {
        // An owner of its own: its lists hold this test's codes only, whatever the class's other tests created.
        using var owner = await _deployment.CreateOwnerClientAsync("lifecycle-tags");
        var untagged = await CreateAsync(new { targetUrl = "https://example.org/0" }, owner);
        var spring = await CreateAsync(new { targetUrl = "https://example.org/1", tags = new[] { "spring", "Poster" } }, owner);
        var summer = await CreateAsync(new { targetUrl = "https://example.org/2", tags = new[] { "summer" } }, owner);
        var both = await CreateAsync(new { targetUrl = "https://example.org/3", tags = new[] { "spring", "summer", "spring " } }, owner);
        Assert.Equal(["spring", "summer"], both.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));

        var springCodes = await ListAsync("?tag=spring", owner);
        Assert.Equal([Code(both), Code(spring)], springCodes);
        var oldestFirst = await ListAsync("?sort=createdAt", owner);
        Assert.Equal([Code(untagged), Code(spring), Code(summer), Code(both)], oldestFirst);

        using var badSort = await owner.GetAsync("/api/codes?sort=title");
        await AssertFieldProblemAsync(badSort, "sort");
        using var notANumber = await owner.GetAsync("/api/codes?limit=ten");
        await AssertFieldProblemAsync(notANumber, "limit");
    }

    [Fact]
    public async Task An_expired_code_answers_410_with_a_small_page_and_comes_back_when_the_expiry_is_removed()
    {
        // The real clock: room for the create and a first scan on a busy machine, then a wait until just past the
        // expiry itself (host and test share one clock).
        var expiresAt = DateTimeOffset.UtcNow.AddSeconds(3);
        var created = await CreateAsync(new { targetUrl = "https://example.org/soon", expiresAt });
        var code = Code(created);
        using (var live = await _deployment.Http.GetAsync($"/r/{code}"))
        {
            Assert.True(live.StatusCode == HttpStatusCode.Found, $"before the expiry: {(int)live.StatusCode} at {DateTimeOffset.UtcNow:O}, expiry {expiresAt:O}");
        }

        while (DateTimeOffset.UtcNow <= expiresAt.AddMilliseconds(50) && await Polling.Pause(50))
        {
        }

        using (var request = new HttpRequestMessage(HttpMethod.Get, $"/r/{code}"))
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/html"));
            using var gone = await _deployment.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Gone, gone.StatusCode);
            Assert.Equal("text/html", gone.Content.Headers.ContentType?.MediaType);
            Assert.Contains("has expired", await gone.Content.ReadAsStringAsync());
        }

        using (var json = await _deployment.Http.GetAsync($"/r/{code}"))
        {
            Assert.Equal(HttpStatusCode.Gone, json.StatusCode);
            Assert.Equal("application/problem+json", json.Content.Headers.ContentType?.MediaType);
        }

        Assert.Equal("expired", (await GetAsync(code)).GetProperty("status").GetString());
        using var patch = await _deployment.Http.PatchAsJsonAsync($"/api/codes/{code}", new { expiresAt = (DateTimeOffset?)null });
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        using var again = await _deployment.Http.GetAsync($"/r/{code}");
        Assert.Equal(HttpStatusCode.Found, again.StatusCode);
        Assert.Equal(2, await _deployment.WaitForScanRowsAsync(code));
    }

    [Fact]
    public async Task A_code_with_a_scan_budget_redirects_exactly_that_many_times()
    {
        var code = Code(await CreateAsync(new { targetUrl = "https://example.org/limited", maxScans = 3 }));

        var results = await _deployment.Http.ScanManyAsync(code, 10, parallelism: 5);

        Assert.Equal(3, results.Count(r => r.Status == HttpStatusCode.Found));
        Assert.Equal(7, results.Count(r => r.Status == HttpStatusCode.Gone));
        Assert.Equal(3, await _deployment.WaitForScanRowsAsync(code));
        var details = await GetAsync(code);
        Assert.Equal("exhausted", details.GetProperty("status").GetString());
        Assert.Equal(3, details.GetProperty("totalScans").GetInt64());

        // Raising the budget revives it; the count carries on from 3.
        using var patch = await _deployment.Http.PatchAsJsonAsync($"/api/codes/{code}", new { maxScans = 4 });
        Assert.Equal("active", (await patch.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        var more = await _deployment.Http.ScanManyAsync(code, 3, parallelism: 1);
        Assert.Equal([HttpStatusCode.Found, HttpStatusCode.Gone, HttpStatusCode.Gone], more.Select(r => r.Status));
    }

    [Theory]
    [InlineData("""{"targetUrl":"https://example.org","tags":["ok","<script>"]}""", "tags")]
    [InlineData("""{"targetUrl":"https://example.org","tags":[""]}""", "tags")]
    [InlineData("""{"targetUrl":"https://example.org","tags":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q","r","s","t","u"]}""", "tags")]
    [InlineData("""{"targetUrl":"https://example.org","expiresAt":"2001-01-01T00:00:00Z"}""", "expiresAt")]
    [InlineData("""{"targetUrl":"https://example.org","maxScans":0}""", "maxScans")]
    [InlineData("""{"targetUrl":"https://example.org","throttleBurst":0}""", "throttleBurst")]
    [InlineData("""{"targetUrl":"https://example.org","throttlePerMinute":99999999}""", "throttlePerMinute")]
    public async Task Bad_lifecycle_fields_answer_400_naming_the_field(string body, string field)
    {
        using var response = await _deployment.Http.PostAsync("/api/codes", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        await AssertFieldProblemAsync(response, field);
    }

    private async Task<JsonElement> CreateAsync(object body, HttpClient? client = null)
    {
        using var response = await (client ?? _deployment.Http).PostAsJsonAsync("/api/codes", body);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private async Task<JsonElement> GetAsync(string code) => await _deployment.Http.GetFromJsonAsync<JsonElement>($"/api/codes/{code}");

    private static async Task<List<string>> ListAsync(string query, HttpClient client)
    {
        var page = await client.GetFromJsonAsync<JsonElement>("/api/codes" + query);
        return [.. page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("code").GetString()!)];
    }

    private static string Code(JsonElement created) => created.GetProperty("code").GetString()!;

    private static async Task AssertFieldProblemAsync(HttpResponseMessage response, string field)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"problem names {field}: {problem}");
    }
}
