using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Http;

/// <summary>
/// The dashboard's session endpoints over plain HTTP (no browser): an API key is exchanged for an HttpOnly
/// cookie that the API accepts, unsafe cookie requests need the CSRF header, sign-out and key revocation
/// end the session, and the dashboard's files carry the security headers. Several gateways of one deployment
/// are more hosts joining the class's one (same database and cluster, each with its own silo).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class DashboardSessionTests(PostgresServer postgres, SharedGatewayHost shared) : IClassFixture<SharedGatewayHost>, IAsyncLifetime
{
    private const string Csrf = "X-InvexQR-CSRF";
    private GatewayHost _deployment = null!;

    public async Task InitializeAsync() => _deployment = await shared.GetAsync(postgres);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_session_cookie_works_like_the_key_with_CSRF_rules_for_unsafe_methods_until_sign_out()
    {
        using var browser = CookieClient(out var cookies);

        using (var bad = await browser.PostAsJsonAsync("/app/session", new { apiKey = "not-a-key" }))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, bad.StatusCode);
            Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
            Assert.Empty(cookies.GetAllCookies());
        }

        using (var anonymous = await browser.GetAsync("/app/session"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        using (var signIn = await browser.PostAsJsonAsync("/app/session", new { apiKey = GatewayHost.ApiKey }))
        {
            Assert.Equal(HttpStatusCode.NoContent, signIn.StatusCode);
            var setCookie = Assert.Single(signIn.Headers.GetValues("Set-Cookie"));
            Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("samesite=strict", setCookie, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(GatewayHost.ApiKey, setCookie);
        }

        var session = Assert.Single(cookies.GetAllCookies());
        Assert.Equal("invexqr_session", session.Name);
        Assert.True(session.HttpOnly);
        Assert.InRange(session.Expires, DateTime.Now.AddHours(7.9), DateTime.Now.AddHours(8.1));

        var me = await browser.GetFromJsonAsync<JsonElement>("/app/session");
        Assert.Equal("admin", me.GetProperty("role").GetString());
        Assert.Equal("session", me.GetProperty("signedInWith").GetString());

        // GET with the cookie alone.
        using (var list = await browser.GetAsync("/api/codes"))
        {
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        }

        // Unsafe method with the cookie but without the CSRF header: 403, nothing created.
        using (var forged = await browser.PostAsJsonAsync("/api/codes", new { targetUrl = "https://example.org/csrf", code = "csrf-forged" }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);
            Assert.Equal("application/problem+json", forged.Content.Headers.ContentType?.MediaType);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await _deployment.Http.GetAsync("/api/codes/csrf-forged")).StatusCode);

        // With the header: created, and PATCH / DELETE work the same way.
        using (var create = new HttpRequestMessage(HttpMethod.Post, "/api/codes") { Content = JsonContent.Create(new { targetUrl = "https://example.org/ok", code = "csrf-ok" }) })
        {
            create.Headers.Add(Csrf, "1");
            using var created = await browser.SendAsync(create);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        using (var patch = new HttpRequestMessage(HttpMethod.Patch, "/api/codes/csrf-ok") { Content = JsonContent.Create(new { title = "renamed" }) })
        {
            using var noHeader = await browser.SendAsync(new HttpRequestMessage(HttpMethod.Patch, "/api/codes/csrf-ok") { Content = JsonContent.Create(new { title = "x" }) });
            Assert.Equal(HttpStatusCode.Forbidden, noHeader.StatusCode);
            patch.Headers.Add(Csrf, "1");
            using var patched = await browser.SendAsync(patch);
            Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        }

        // Bearer requests need no CSRF header (a cross-site page cannot attach an Authorization header).
        using (var bearer = await _deployment.Http.PatchAsJsonAsync("/api/codes/csrf-ok", new { title = "by key" }))
        {
            Assert.Equal(HttpStatusCode.OK, bearer.StatusCode);
        }

        // Sign-out needs the header too (it is an unsafe cookie request), clears the cookie, and ends the
        // session on the server: a copy of the old cookie value no longer works either.
        var copied = session.Value;
        using (var noHeader = await browser.DeleteAsync("/app/session"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, noHeader.StatusCode);
        }

        using (var signOut = new HttpRequestMessage(HttpMethod.Delete, "/app/session"))
        {
            signOut.Headers.Add(Csrf, "1");
            using var signedOut = await browser.SendAsync(signOut);
            Assert.Equal(HttpStatusCode.NoContent, signedOut.StatusCode);
        }

        Assert.Empty(cookies.GetAllCookies());
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync("/api/codes")).StatusCode);
        using var replay = new HttpRequestMessage(HttpMethod.Get, "/api/codes");
        replay.Headers.Add("Cookie", $"invexqr_session={copied}");
        using var plain = _deployment.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await plain.SendAsync(replay)).StatusCode);

        // A forged cookie is refused.
        using var forgedCookie = new HttpRequestMessage(HttpMethod.Get, "/api/codes");
        forgedCookie.Headers.Add("Cookie", "invexqr_session=" + Convert.ToBase64String(new byte[64]));
        Assert.Equal(HttpStatusCode.Unauthorized, (await plain.SendAsync(forgedCookie)).StatusCode);
    }

    [Fact]
    public async Task Revoking_the_key_ends_its_cookie_sessions()
    {
        using var owner = await _deployment.Http.PostAsJsonAsync("/api/owners", new { name = "dana" });
        Assert.Equal(HttpStatusCode.Created, owner.StatusCode);
        var created = await owner.Content.ReadFromJsonAsync<JsonElement>();
        var key = created.GetProperty("apiKey").GetProperty("key").GetString()!;
        var keyId = created.GetProperty("apiKey").GetProperty("id").GetInt64();

        using var browser = CookieClient(out _);
        Assert.Equal(HttpStatusCode.NoContent, (await browser.PostAsJsonAsync("/app/session", new { apiKey = key })).StatusCode);
        Assert.Equal("owner", (await browser.GetFromJsonAsync<JsonElement>("/app/session")).GetProperty("role").GetString());
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/api/codes")).StatusCode);

        // The owner revokes the key from the dashboard session itself.
        using var revoke = new HttpRequestMessage(HttpMethod.Delete, $"/api/keys/{keyId}");
        revoke.Headers.Add(Csrf, "1");
        Assert.Equal(HttpStatusCode.NoContent, (await browser.SendAsync(revoke)).StatusCode);

        // Same gateway: at once (its key cache is cleared on revocation).
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync("/api/codes")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync("/app/session")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.PostAsJsonAsync("/app/session", new { apiKey = key })).StatusCode);
    }

    [Fact]
    public async Task The_dashboard_page_and_assets_carry_security_and_cache_headers()
    {
        using var plain = _deployment.CreateClient();
        using var page = await plain.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var csp = string.Join(' ', page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", csp);
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.DoesNotContain("unsafe-inline", csp);
        Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", page.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("no-referrer", page.Headers.GetValues("Referrer-Policy").Single());
        Assert.Contains("private", page.Headers.CacheControl?.ToString());
        var html = await page.Content.ReadAsStringAsync();
        Assert.DoesNotContain("<script>", html); // external scripts only
        Assert.DoesNotContain(" onclick=", html);

        using var vendor = await plain.GetAsync("/app/vendor/echarts.min.js");
        Assert.Equal(HttpStatusCode.OK, vendor.StatusCode);
        Assert.Equal("public, max-age=86400", vendor.Headers.CacheControl?.ToString());
        using var map = await plain.GetAsync("/app/vendor/world.json");
        Assert.Equal(HttpStatusCode.OK, map.StatusCode);
        using var script = await plain.GetAsync("/app/app.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("no-cache", script.Headers.CacheControl?.ToString());
        Assert.NotNull(script.Headers.ETag);
    }

    [Fact]
    public async Task A_session_signed_in_on_one_gateway_works_on_another_and_the_keys_are_in_the_database()
    {
        await using var second = await GatewayHost.StartAsync(postgres, joining: _deployment);
        using var browser = CookieClient(out var cookies);
        using (var signIn = await browser.PostAsJsonAsync("/app/session", new { apiKey = GatewayHost.ApiKey }))
        {
            Assert.Equal(HttpStatusCode.NoContent, signIn.StatusCode);
        }

        var cookie = cookies.GetAllCookies().Single(c => c.Name == "invexqr_session");
        using var other = second.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/codes");
        request.Headers.Add("Cookie", $"{cookie.Name}={cookie.Value}");
        using var response = await other.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(await _deployment.ScalarAsync("SELECT count(*) FROM dashboard_keys") >= 1);
    }

    [Fact]
    public async Task Signing_out_on_one_gateway_ends_the_session_on_another()
    {
        await using var second = await GatewayHost.StartAsync(postgres, joining: _deployment);
        using var browser = CookieClient(out var cookies);
        Assert.Equal(HttpStatusCode.NoContent, (await browser.PostAsJsonAsync("/app/session", new { apiKey = GatewayHost.ApiKey })).StatusCode);
        var copied = cookies.GetAllCookies().Single(c => c.Name == "invexqr_session").Value;
        using var other = second.CreateClient();

        // The other gateway has accepted the session, and so remembers it as live for a few seconds.
        Assert.Equal(HttpStatusCode.OK, (await other.SendAsync(WithCookie(copied))).StatusCode);

        // The class's database is shared: other tests' sign-outs are counted before.
        var signOutsBefore = await _deployment.ScalarAsync("SELECT count(*) FROM dashboard_sign_outs WHERE expires_at > now()");
        using (var signOut = new HttpRequestMessage(HttpMethod.Delete, "/app/session"))
        {
            signOut.Headers.Add(Csrf, "1");
            Assert.Equal(HttpStatusCode.NoContent, (await browser.SendAsync(signOut)).StatusCode);
        }

        // At once where it was signed out; on the other gateway once its memory of the session is older than
        // the key cache's 10 s, as for a revoked key.
        using var first = _deployment.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await first.SendAsync(WithCookie(copied))).StatusCode);
        var signedOutAt = DateTime.UtcNow;
        var status = HttpStatusCode.OK;
        while (DateTime.UtcNow < signedOutAt.AddSeconds(30) && await Polling.Pause(500))
        {
            status = (await other.SendAsync(WithCookie(copied))).StatusCode;
            if (status != HttpStatusCode.OK)
            {
                break;
            }
        }

        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.InRange(DateTime.UtcNow - signedOutAt, TimeSpan.Zero, TimeSpan.FromSeconds(15));
        Assert.Equal(signOutsBefore + 1, await _deployment.ScalarAsync("SELECT count(*) FROM dashboard_sign_outs WHERE expires_at > now()"));

        // A gateway started after the sign-out refuses the cookie from its first request.
        await using var third = await GatewayHost.StartAsync(postgres, joining: _deployment);
        using var late = third.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await late.SendAsync(WithCookie(copied))).StatusCode);
    }

    private static HttpRequestMessage WithCookie(string value)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/codes");
        request.Headers.Add("Cookie", $"invexqr_session={value}");
        return request;
    }

    private HttpClient CookieClient(out CookieContainer cookies)
    {
        cookies = new CookieContainer();
        return new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, CookieContainer = cookies, UseCookies = true })
        {
            BaseAddress = _deployment.BaseAddress,
        };
    }
}
