using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Http;

/// <summary>
/// The application-side lows of issue 19, against one gateway that sits behind an RFC 7239 proxy (loopback is trusted
/// and speaks <c>Forwarded</c>), with HSTS on, a low limit of wrong keys and small owner limits.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class AppHardeningTests(PostgresServer postgres, SharedGatewayHost shared) : IClassFixture<SharedGatewayHost>, IAsyncLifetime
{
    private GatewayHost _deployment = null!;

    public async Task InitializeAsync() => _deployment = await shared.GetAsync(postgres, new Dictionary<string, string?>
    {
        ["Network:TrustedProxies:0"] = "127.0.0.1",
        ["Network:ForwardedHeaders"] = "Forwarded",
        ["Gateway:HstsMaxAgeDays"] = "365",
        ["Auth:FailedAttemptsPerMinute"] = "5",
        ["Owners:MaxCodes"] = "3",
        ["Owners:MaxThrottleBurst"] = "100",
        ["Owners:MaxThrottlePerMinute"] = "1000",
    });

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_redirect_loop_check_refuses_other_spellings_of_the_gateways_own_host()
    {
        var port = _deployment.BaseAddress.Port;
        foreach (var target in new[]
        {
            $"http://localhost:{port}/r/abc", $"http://LOCALHOST.:{port}/r/abc", $"http://127.0.0.1.:{port}/r/abc",
            $"http://[::ffff:127.0.0.1]:{port}/r/abc", $"http://2130706433:{port}/r/abc", $"http://0x7f000001:{port}/r/abc",
            "https://QR.example.com./r/abc", $"http://127.0.0.1:{port}/%72/abc",
        })
        {
            using var response = await _deployment.Http.PostAsJsonAsync("/api/codes", new { targetUrl = target });
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{target}: {(int)response.StatusCode} {body}");
            Assert.Contains("loop", body);
        }
    }

    [Fact]
    public async Task Behind_an_RFC_7239_proxy_its_Forwarded_header_wins_and_proto_https_gives_a_secure_cookie_and_HSTS()
    {
        var code = (await _deployment.Http.CreateCodeAsync("https://example.org/forwarded")).GetProperty("code").GetString()!;
        using (var scan = new HttpRequestMessage(HttpMethod.Get, $"/r/{code}"))
        {
            scan.Headers.TryAddWithoutValidation("X-Forwarded-For", "81.2.69.142"); // the client's own, passed through
            scan.Headers.TryAddWithoutValidation("Forwarded", "for=\"[2001:4860:4860::8888]:4711\";proto=https");
            using var response = await _deployment.Http.SendAsync(scan);
            Assert.Equal(HttpStatusCode.Found, response.StatusCode);
            Assert.Equal("max-age=31536000", response.Headers.GetValues("Strict-Transport-Security").Single());
        }

        Assert.Equal(1, await _deployment.WaitForScanRowsAsync(code));
        Assert.Equal(1, await _deployment.ScalarAsync(
            "SELECT count(*) FROM qr_scans s JOIN qr_codes c ON c.id = s.qr_code_id WHERE c.code = $1 AND s.ip_address = '2001:4860:4860::'", code));

        using var signIn = new HttpRequestMessage(HttpMethod.Post, "/app/session") { Content = JsonContent.Create(new { apiKey = GatewayHost.ApiKey }) };
        signIn.Headers.TryAddWithoutValidation("Forwarded", "for=198.51.100.20;proto=https");
        using (var signedIn = await _deployment.CreateClient().SendAsync(signIn))
        {
            Assert.Equal(HttpStatusCode.NoContent, signedIn.StatusCode);
            Assert.Contains("secure", signedIn.Headers.GetValues("Set-Cookie").Single(), StringComparison.OrdinalIgnoreCase);
        }

        // Plain HTTP: no HSTS (browsers ignore it there anyway), no Secure flag.
        using var plain = await _deployment.CreateClient().PostAsJsonAsync("/app/session", new { apiKey = GatewayHost.ApiKey });
        Assert.False(plain.Headers.Contains("Strict-Transport-Security"));
        Assert.DoesNotContain("secure", plain.Headers.GetValues("Set-Cookie").Single(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task NUL_in_names_titles_and_searches_and_a_target_too_long_once_encoded_are_400s()
    {
        using var owner = await _deployment.CreateOwnerClientAsync("nul-tester");
        var cases = new (string Name, Func<Task<HttpResponseMessage>> Send)[]
        {
            ("title", () => owner.PostAsJsonAsync("/api/codes", new { targetUrl = "https://example.org/", title = "a\0b" })),
            ("key name", () => owner.PostAsJsonAsync("/api/keys", new { name = "ci\0" })),
            ("owner name", () => _deployment.Http.PostAsJsonAsync("/api/owners", new { name = "eve\0" })),
            ("q", () => owner.GetAsync("/api/codes?q=a%00b")),
            ("tag", () => owner.GetAsync("/api/codes?tag=a%00b")),
            ("target", () => owner.PostAsJsonAsync("/api/codes", new { targetUrl = "https://example.org/" + new string('é', 700) })),
        };
        foreach (var (name, send) in cases)
        {
            using var response = await send();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task Slugs_are_unique_whatever_their_case_and_a_deleted_slug_stays_its_owners()
    {
        using var alice = await _deployment.CreateOwnerClientAsync("slug-alice");
        using var bob = await _deployment.CreateOwnerClientAsync("slug-bob");
        await alice.CreateCodeAsync("https://example.org/menu", "Alice-Menu");

        Assert.Equal(HttpStatusCode.Conflict, await CreateAsync(bob, "alice-menu"));
        Assert.Equal(HttpStatusCode.Conflict, await CreateAsync(alice, "ALICE-MENU"));

        Assert.Equal(HttpStatusCode.NoContent, (await alice.DeleteAsync("/api/codes/Alice-Menu")).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, await CreateAsync(bob, "Alice-Menu"));   // printed posters must not follow Bob
        Assert.Equal(HttpStatusCode.Conflict, await CreateAsync(bob, "alice-menu"));
        Assert.Equal(HttpStatusCode.Created, await CreateAsync(alice, "alice-menu"));  // Alice may take it back, in any case
    }

    [Fact]
    public async Task Wrong_keys_are_throttled_per_client_address_with_429_and_Retry_After()
    {
        using var client = _deployment.CreateClient();
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await ListCodesAsync(client, "iqr_wrong" + i, "198.51.100.7"));
        }

        using (var throttled = Request("iqr_wrong", "198.51.100.7"))
        using (var response = await client.SendAsync(throttled))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            Assert.InRange(int.Parse(response.Headers.GetValues("Retry-After").Single()), 1, 60);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        // Even the right key waits from that address; other addresses are not affected.
        Assert.Equal(HttpStatusCode.TooManyRequests, await ListCodesAsync(client, GatewayHost.ApiKey, "198.51.100.7"));
        Assert.Equal(HttpStatusCode.OK, await ListCodesAsync(client, GatewayHost.ApiKey, "198.51.100.8"));

        // The dashboard's sign-in counts the same way.
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await SignInAsync(client, "iqr_wrong" + i, "198.51.100.9"));
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, await SignInAsync(client, GatewayHost.ApiKey, "198.51.100.9"));
    }

    [Fact]
    public async Task Answers_carrying_keys_or_scan_data_are_not_kept_by_caches()
    {
        var code = (await _deployment.Http.CreateCodeAsync("https://example.org/cache")).GetProperty("code").GetString()!;
        using var key = await _deployment.Http.PostAsJsonAsync("/api/keys", new { name = "cache-test" });
        Assert.Equal(HttpStatusCode.Created, key.StatusCode);
        Assert.Contains("no-store", key.Headers.CacheControl?.ToString());
        foreach (var path in new[] { "/api/keys", "/api/codes", $"/api/codes/{code}", $"/api/codes/{code}/stats", $"/api/codes/{code}/scans.csv", "/api/stats" })
        {
            using var response = await _deployment.Http.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode}");
            Assert.True(response.Headers.CacheControl?.NoStore == true, $"{path}: Cache-Control {response.Headers.CacheControl}");
        }
    }

    [Fact]
    public async Task Metrics_readiness_and_docs_answer_direct_operators_and_admins_not_the_public()
    {
        var operatorPaths = new[] { "/metrics", "/health/ready", "/docs", "/openapi/v1.json" };
        using var anonymous = _deployment.CreateClient();
        using var owner = await _deployment.CreateOwnerClientAsync("docs-reader");
        foreach (var path in operatorPaths)
        {
            // From the internet, through the proxy: not found, whatever the client claims.
            Assert.Equal(HttpStatusCode.NotFound, await GetThroughProxyAsync(anonymous, path));
            using var direct = await anonymous.GetAsync(path); // loopback, directly: the operator's own machine
            Assert.True(direct.StatusCode == HttpStatusCode.OK, $"{path} direct: {(int)direct.StatusCode}");
            Assert.Equal(HttpStatusCode.OK, await GetThroughProxyAsync(_deployment.Http, path)); // with the admin key
        }

        Assert.Equal(HttpStatusCode.OK, await GetThroughProxyAsync(owner, "/docs"));
        Assert.Equal(HttpStatusCode.NotFound, await GetThroughProxyAsync(owner, "/metrics"));
        Assert.Equal(HttpStatusCode.OK, await GetThroughProxyAsync(anonymous, "/health/live"));
    }

    [Fact]
    public async Task Owners_cannot_raise_a_codes_throttle_above_the_ceiling_nor_exceed_their_code_quota()
    {
        using var owner = await _deployment.CreateOwnerClientAsync("quota-owner");
        using (var tooMuch = await owner.PostAsJsonAsync("/api/codes", new { targetUrl = "https://example.org/", throttleBurst = 101 }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, tooMuch.StatusCode);
            Assert.Contains("throttleBurst", await tooMuch.Content.ReadAsStringAsync());
        }

        var code = (await owner.PostAsJsonAsync("/api/codes", new { targetUrl = "https://example.org/", throttleBurst = 100 }));
        Assert.Equal(HttpStatusCode.Created, code.StatusCode);
        var slug = (await code.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString()!;
        using (var raise = await owner.PatchAsJsonAsync($"/api/codes/{slug}", new { throttlePerMinute = 1001 }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, raise.StatusCode);
        }

        await owner.CreateCodeAsync("https://example.org/2");
        await owner.CreateCodeAsync("https://example.org/3");
        using (var fourth = await owner.PostAsJsonAsync("/api/codes", new { targetUrl = "https://example.org/4" }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, fourth.StatusCode);
            Assert.Equal("application/problem+json", fourth.Content.Headers.ContentType?.MediaType);
            Assert.Contains("quota", await fourth.Content.ReadAsStringAsync());
        }

        // The operator's own (admin) keys are not bound by the owners' ceiling.
        using var admin = await _deployment.Http.PostAsJsonAsync("/api/codes", new { targetUrl = "https://example.org/", throttleBurst = 5000 });
        Assert.Equal(HttpStatusCode.Created, admin.StatusCode);
    }

    private static async Task<HttpStatusCode> CreateAsync(HttpClient client, string code)
    {
        using var response = await client.PostAsJsonAsync("/api/codes", new { targetUrl = "https://example.org/slug", code });
        return response.StatusCode;
    }

    private static HttpRequestMessage Request(string key, string clientAddress)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/codes");
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + key);
        request.Headers.TryAddWithoutValidation("Forwarded", "for=" + clientAddress);
        return request;
    }

    private static async Task<HttpStatusCode> ListCodesAsync(HttpClient client, string key, string clientAddress)
    {
        using var request = Request(key, clientAddress);
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    private static async Task<HttpStatusCode> SignInAsync(HttpClient client, string key, string clientAddress)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/app/session") { Content = JsonContent.Create(new { apiKey = key }) };
        request.Headers.TryAddWithoutValidation("Forwarded", "for=" + clientAddress);
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    private static async Task<HttpStatusCode> GetThroughProxyAsync(HttpClient client, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("Forwarded", "for=203.0.113.9;proto=https");
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }
}
