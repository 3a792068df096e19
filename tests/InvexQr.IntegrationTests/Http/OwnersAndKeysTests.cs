using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Http;

/// <summary>Owners, their API keys, and isolation: another owner's code answers 404 everywhere.</summary>
[Collection(PostgresCollection.Name)]
public sealed class OwnersAndKeysTests(PostgresServer postgres, SharedGatewayHost shared) : IClassFixture<SharedGatewayHost>, IAsyncLifetime
{
    private GatewayHost _deployment = null!;

    public async Task InitializeAsync() => _deployment = await shared.GetAsync(postgres);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Owners_see_only_their_own_codes_and_keys_work_until_revoked()
    {
        var aliceKey = await _deployment.CreateOwnerAsync("alice");
        var bobKey = await _deployment.CreateOwnerAsync("bob");
        using var alice = _deployment.CreateClient(aliceKey);
        using var bob = _deployment.CreateClient(bobKey);

        var code = (await alice.CreateCodeAsync("https://example.org/alice", "alice-poster")).GetProperty("code").GetString()!;

        // Alice reaches her code everywhere; Bob gets 404 everywhere (not 403: no enumeration).
        foreach (var (method, path, body) in new (HttpMethod, string, object?)[]
        {
            (HttpMethod.Get, $"/api/codes/{code}", null),
            (HttpMethod.Patch, $"/api/codes/{code}", new { targetUrl = "https://example.org/bob-was-here" }),
            (HttpMethod.Get, $"/api/codes/{code}/qr.png", null),
            (HttpMethod.Get, $"/api/codes/{code}/qr.svg", null),
            (HttpMethod.Get, $"/api/codes/{code}/stats", null),
            (HttpMethod.Get, $"/api/codes/{code}/stats?granularity=hour&tz=Europe/Paris", null),
            (HttpMethod.Get, $"/api/codes/{code}/scans.csv", null),
            (HttpMethod.Delete, $"/api/codes/{code}", null),
        })
        {
            using var asBob = await SendAsync(bob, method, path, body);
            Assert.True(asBob.StatusCode == HttpStatusCode.NotFound, $"{method} {path} as bob: {(int)asBob.StatusCode}");
        }

        using (var asAlice = await alice.GetAsync($"/api/codes/{code}"))
        {
            Assert.Equal(HttpStatusCode.OK, asAlice.StatusCode);
            Assert.Equal("https://example.org/alice", (await asAlice.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("targetUrl").GetString());
        }

        Assert.Equal(0, (await bob.GetFromJsonAsync<JsonElement>("/api/codes")).GetProperty("items").GetArrayLength());
        using (var scan = await _deployment.Http.GetAsync($"/r/{code}"))
        {
            Assert.Equal(HttpStatusCode.Found, scan.StatusCode);
        }

        await _deployment.FlushAsync(); // Alice's scan is in the rollups that Bob's summary reads
        var bobsSummary = await bob.GetFromJsonAsync<JsonElement>("/api/stats");
        Assert.Equal(0, bobsSummary.GetProperty("totals").GetProperty("scans").GetInt64());
        Assert.Equal(0, bobsSummary.GetProperty("topCodes").GetArrayLength());
        using (var csv = await alice.GetAsync($"/api/codes/{code}/scans.csv"))
        {
            Assert.Equal(HttpStatusCode.OK, csv.StatusCode);
        }

        Assert.Equal(1, (await alice.GetFromJsonAsync<JsonElement>("/api/codes")).GetProperty("items").GetArrayLength());

        // The slug is taken for Bob too, but he learns nothing else about it.
        using (var clash = await bob.PostAsJsonAsync("/api/codes", new { targetUrl = "https://example.org/b", code = "alice-poster" }))
        {
            Assert.Equal(HttpStatusCode.Conflict, clash.StatusCode);
        }

        // Keys: listed without secrets; a new key works; revoked, it stops working.
        using (var created = await bob.PostAsJsonAsync("/api/keys", new { name = "ci" }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var key = await created.Content.ReadFromJsonAsync<JsonElement>();
            var secret = key.GetProperty("key").GetString()!;
            using var second = _deployment.CreateClient(secret);
            Assert.Equal(HttpStatusCode.OK, (await second.GetAsync("/api/keys")).StatusCode);

            var keys = await bob.GetFromJsonAsync<JsonElement>("/api/keys");
            Assert.Equal(2, keys.GetArrayLength());
            Assert.All(keys.EnumerateArray(), k => Assert.Equal(JsonValueKind.Null, k.GetProperty("key").ValueKind));
            Assert.Equal(0, await _deployment.ScalarAsync("SELECT count(*) FROM api_keys a WHERE a::text LIKE '%' || $1 || '%'", secret));

            using var revoke = await bob.DeleteAsync($"/api/keys/{key.GetProperty("id").GetInt64()}");
            Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await second.GetAsync("/api/keys")).StatusCode);
        }

        // Roles and bad keys.
        using (var notAdmin = await bob.PostAsJsonAsync("/api/owners", new { name = "mallory" }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, notAdmin.StatusCode);
        }

        using var wrong = _deployment.CreateClient("iqr_not-a-real-key");
        using var rejected = await wrong.GetAsync($"/api/codes/{code}");
        Assert.Equal(HttpStatusCode.Unauthorized, rejected.StatusCode);
        Assert.Equal("application/problem+json", rejected.Content.Headers.ContentType?.MediaType);
        using var viaHeader = new HttpRequestMessage(HttpMethod.Get, $"/api/codes/{code}");
        viaHeader.Headers.Add("X-Api-Key", aliceKey);
        using var plain = new HttpClient { BaseAddress = _deployment.BaseAddress };
        Assert.Equal(HttpStatusCode.OK, (await plain.SendAsync(viaHeader)).StatusCode);
    }

    [Fact]
    public async Task Erasing_an_owner_removes_its_codes_scans_rollups_and_keys()
    {
        var carolKey = await _deployment.CreateOwnerAsync("carol");
        using var carol = _deployment.CreateClient(carolKey);
        var codes = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var code = (await carol.CreateCodeAsync($"https://example.org/carol/{i}")).GetProperty("code").GetString()!;
            codes.Add(code);
            await _deployment.Http.ScanManyAsync(code, 5);
        }

        var carolId = await _deployment.ScalarAsync("SELECT id FROM owners WHERE name = 'carol'");
        var carolsCodeIds = new List<long>();
        foreach (var code in codes)
        {
            Assert.Equal(5, await _deployment.WaitForScanRowsAsync(code));
            carolsCodeIds.Add(await _deployment.ScalarAsync("SELECT id FROM qr_codes WHERE code = $1", code));
        }

        // The rollups of those scans are written too, so the erasure has them to remove.
        const string CarolsRollups = "SELECT coalesce(sum(scans), 0) FROM qr_rollup_hourly WHERE qr_code_id = ANY($1)";
        var rolledUp = await _deployment.ScalarAsync(CarolsRollups, carolsCodeIds.ToArray());
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (rolledUp < 15 && DateTime.UtcNow < deadline && await Polling.Pause(50))
        {
            rolledUp = await _deployment.ScalarAsync(CarolsRollups, carolsCodeIds.ToArray());
        }

        Assert.Equal(15, rolledUp);

        using (var self = await _deployment.Http.DeleteAsync($"/api/owners/{await _deployment.ScalarAsync("SELECT id FROM owners WHERE name = 'admin'")}"))
        {
            Assert.Equal(HttpStatusCode.Conflict, self.StatusCode);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await _deployment.Http.DeleteAsync("/api/owners/987654321")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await carol.DeleteAsync($"/api/owners/{carolId}")).StatusCode);
        using (var erase = await _deployment.Http.DeleteAsync($"/api/owners/{carolId}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, erase.StatusCode);
        }

        foreach (var code in codes)
        {
            using var scan = await _deployment.Http.GetAsync($"/r/{code}");
            Assert.Equal(HttpStatusCode.NotFound, scan.StatusCode);
        }

        foreach (var table in new[] { "qr_codes WHERE owner_id", "api_keys WHERE owner_id", "owners WHERE id" })
        {
            Assert.Equal(0, await _deployment.ScalarAsync($"SELECT count(*) FROM {table} = $1", carolId));
        }

        await _deployment.FlushAsync(); // nothing the sinks still held for Carol's codes comes back
        foreach (var table in new[] { "qr_scans", "qr_rollup_hourly", "qr_rollup_dims_hourly", "qr_rollup_dims_daily", "qr_rollup_visitor_registers" })
        {
            Assert.Equal(0, await _deployment.ScalarAsync($"SELECT count(*) FROM {table} WHERE qr_code_id = ANY($1)", carolsCodeIds.ToArray()));
            Assert.Equal(0, await _deployment.ScalarAsync($"SELECT count(*) FROM {table} WHERE qr_code_id NOT IN (SELECT id FROM qr_codes)"));
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await carol.GetAsync("/api/codes")).StatusCode);
    }

    [Fact]
    public async Task Admins_list_owners_by_name_page_by_page_and_others_get_403()
    {
        var daveKey = await _deployment.CreateOwnerAsync("dave");
        await _deployment.CreateOwnerAsync("erin");
        using var dave = _deployment.CreateClient(daveKey);

        // Every page by one: the walk ends (next null) and meets both names, each once, ids rising.
        var seen = new List<(long Id, string Name, string Role)>();
        long? after = null;
        for (var pages = 0; pages < 1000; pages++)
        {
            var page = await _deployment.Http.GetFromJsonAsync<JsonElement>($"/api/owners?limit=1{(after is { } a ? $"&after={a}" : "")}");
            foreach (var owner in page.GetProperty("items").EnumerateArray())
            {
                seen.Add((owner.GetProperty("id").GetInt64(), owner.GetProperty("name").GetString()!, owner.GetProperty("role").GetString()!));
            }

            if (page.GetProperty("next").ValueKind == JsonValueKind.Null)
            {
                break;
            }

            after = page.GetProperty("next").GetInt64();
        }

        Assert.Equal(await _deployment.ScalarAsync("SELECT count(*) FROM owners"), seen.Count);
        Assert.Equal(seen.OrderBy(o => o.Id).Select(o => o.Id), seen.Select(o => o.Id));
        Assert.Single(seen, o => o.Name == "dave" && o.Role == "owner");
        Assert.Single(seen, o => o.Name == "erin");
        Assert.Contains(seen, o => o.Name == "admin" && o.Role == "admin");

        // The dashboard's "who am I" names the owner.
        var me = await dave.GetFromJsonAsync<JsonElement>("/app/session");
        Assert.Equal("dave", me.GetProperty("name").GetString());

        using (var notAdmin = await dave.GetAsync("/api/owners"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, notAdmin.StatusCode);
            Assert.Equal("application/problem+json", notAdmin.Content.Headers.ContentType?.MediaType);
        }

        foreach (var (query, field) in new[] { ("limit=0", "limit"), ("limit=201", "limit"), ("after=-1", "after") })
        {
            using var bad = await _deployment.Http.GetAsync($"/api/owners?{query}");
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
            Assert.True((await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty(field, out _), query);
        }

        using var notANumber = await _deployment.Http.GetAsync("/api/owners?limit=ten");
        Assert.Equal(HttpStatusCode.BadRequest, notANumber.StatusCode);
        Assert.Equal("application/problem+json", notANumber.Content.Headers.ContentType?.MediaType);
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, object? body)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return client.SendAsync(request);
    }
}
