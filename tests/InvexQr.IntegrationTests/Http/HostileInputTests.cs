using System.Net;
using System.Net.Http.Headers;
using System.Text;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Http;

/// <summary>
/// Hostile and malformed input against every endpoint of the gateway (its silo in process, on real Kestrel): each case must get the
/// answer written next to it (a clear 4xx, with a problem+json body wherever the application
/// answers; the few the HTTP server refuses itself — 414, 431 — have no body), never a 5xx or a
/// hang, and afterwards the database holds nothing a hostile case tried to store.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class HostileInputTests(PostgresServer postgres, SharedGatewayHost shared) : IClassFixture<SharedGatewayHost>, IAsyncLifetime
{
    private GatewayHost _deployment = null!;

    public async Task InitializeAsync() => _deployment = await shared.GetAsync(postgres);

    public Task DisposeAsync() => Task.CompletedTask;

    private sealed record Case(string Name, HttpMethod Method, string Path, HttpStatusCode Expected, string? Json = null, string? ContentType = "application/json", Action<HttpRequestHeaders>? Headers = null);

    /// <summary>Refused by Kestrel before any application code runs: a status, no body.</summary>
    private static readonly HashSet<string> ServerRefusals = ["scan: NUL", "scan: 10 KB request line", "scan: 20 KB cookie", "scan: 100 headers"];

    private static string Long(int n, char c = 'a') => new(c, n);

    private static string Create(string fields) => "{" + fields + "}";

    private static IEnumerable<Case> Cases(string code)
    {
        const HttpStatusCode Bad = HttpStatusCode.BadRequest;
        var post = HttpMethod.Post;
        var patch = HttpMethod.Patch;
        var get = HttpMethod.Get;

        // Targets
        foreach (var (name, url) in new[]
        {
            ("javascript target", "javascript:alert(1)"),
            ("mixed-case javascript", "JaVaScRiPt:alert(document.cookie)"),
            ("javascript after spaces", "   javascript:alert(1)"),
            ("javascript with tab inside", "java\tscript:alert(1)"),
            ("data target", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="),
            ("file target", "file:///etc/passwd"),
            ("ftp target", "ftp://example.org/x"),
            ("vbscript target", "vbscript:msgbox(1)"),
            ("scheme-relative target", "//evil.example/x"),
            ("relative target", "/r/abc"),
            ("empty host", "https://"),
            ("credentials in the target", "https://user:secret@example.org/"),
            ("huge target", "https://example.org/" + Long(10_000)),
            ("loop to our own short URL", "https://qr.example.com/r/" + code),
            ("NUL in the host", "https://exam\\u0000ple.org/"),
            ("CRLF header injection", "https://example.org/\\r\\nSet-Cookie: a=b"),
            ("spaces in the host", "https://exa mple.org/"),
            ("empty target", ""),
        })
        {
            yield return new($"create: {name}", post, "/api/codes", Bad, Create($"\"targetUrl\": \"{url}\""));
        }

        yield return new("create: target is a number", post, "/api/codes", Bad, Create("\"targetUrl\": 123"));
        yield return new("create: target is an object", post, "/api/codes", Bad, Create("\"targetUrl\": {\"href\": \"https://example.org\"}"));

        // Slugs
        foreach (var (name, slug) in new[]
        {
            ("path traversal slug", "../../etc/passwd"),
            ("encoded traversal slug", "..%2f..%2fadmin"),
            ("SQL in the slug", "x'; DROP TABLE qr_codes;--"),
            ("reserved slug api", "api"),
            ("reserved slug health", "health"),
            ("reserved slug metrics", "metrics"),
            ("Cyrillic look-alike slug", "раураl"),
            ("RTL override in the slug", "abc\\u202Edef"),
            ("overlong slug", Long(300)),
            ("one-character slug", "a"),
            ("slug with a slash", "a/b"),
            ("slug with NUL", "ab\\u0000cd"),
        })
        {
            yield return new($"create: {name}", post, "/api/codes", Bad, Create($"\"targetUrl\": \"https://example.org\", \"code\": \"{slug}\""));
        }

        // Other fields
        yield return new("create: huge title", post, "/api/codes", Bad, Create($"\"targetUrl\": \"https://example.org\", \"title\": \"{Long(5_000)}\""));
        yield return new("create: 100 tags", post, "/api/codes", Bad,
            Create("\"targetUrl\": \"https://example.org\", \"tags\": [" + string.Join(',', Enumerable.Range(0, 100).Select(i => $"\"t{i}\"")) + "]"));
        yield return new("create: huge tag", post, "/api/codes", Bad, Create($"\"targetUrl\": \"https://example.org\", \"tags\": [\"{Long(1_000)}\"]"));
        yield return new("create: expiry not a date", post, "/api/codes", Bad, Create("\"targetUrl\": \"https://example.org\", \"expiresAt\": \"next tuesday\""));
        yield return new("create: expiry in the past", post, "/api/codes", Bad, Create("\"targetUrl\": \"https://example.org\", \"expiresAt\": \"2001-01-01T00:00:00Z\""));
        yield return new("create: negative max scans", post, "/api/codes", Bad, Create("\"targetUrl\": \"https://example.org\", \"maxScans\": -1"));
        yield return new("create: max scans beyond a long", post, "/api/codes", Bad, Create("\"targetUrl\": \"https://example.org\", \"maxScans\": 1e400"));
        yield return new("create: absurd throttle", post, "/api/codes", Bad, Create("\"targetUrl\": \"https://example.org\", \"throttleBurst\": 2000000000"));

        // Bodies
        yield return new("create: broken JSON", post, "/api/codes", Bad, "{\"targetUrl\": ");
        yield return new("create: JSON array", post, "/api/codes", Bad, "[]");
        yield return new("create: JSON null", post, "/api/codes", Bad, "null");
        yield return new("create: empty body", post, "/api/codes", Bad, "");
        yield return new("create: deeply nested JSON", post, "/api/codes", Bad, Create("\"targetUrl\": " + Long(5_000, '[') + Long(5_000, ']')));
        yield return new("create: text/plain", post, "/api/codes", HttpStatusCode.UnsupportedMediaType, Create("\"targetUrl\": \"https://example.org\""), "text/plain");
        yield return new("create: XML", post, "/api/codes", HttpStatusCode.UnsupportedMediaType, "<code><targetUrl>https://example.org</targetUrl></code>", "application/xml");
        yield return new("create: no content type", post, "/api/codes", HttpStatusCode.UnsupportedMediaType, Create("\"targetUrl\": \"https://example.org\""), null);
        // As curl does for large bodies: the gateway answers 413 from Content-Length before the body is sent
        // (without it, the answer races the client still writing the body into a closed connection).
        yield return new("create: 1 MB body", post, "/api/codes", HttpStatusCode.RequestEntityTooLarge,
            Create($"\"targetUrl\": \"https://example.org\", \"title\": \"{Long(1_000_000)}\""), Headers: h => h.ExpectContinue = true);

        // Updates
        yield return new("patch: javascript target", patch, $"/api/codes/{code}", Bad, Create("\"targetUrl\": \"javascript:alert(1)\""));
        yield return new("patch: enabled is a string", patch, $"/api/codes/{code}", Bad, Create("\"enabled\": \"yes\""));
        yield return new("patch: broken JSON", patch, $"/api/codes/{code}", Bad, "{");
        yield return new("patch: traversal in the path", patch, "/api/codes/..%2f..%2fapi", HttpStatusCode.NotFound, Create("\"title\": \"x\""));
        yield return new("delete: SQL in the path", HttpMethod.Delete, "/api/codes/x'%20OR%20'1'='1", HttpStatusCode.NotFound);

        // Scans
        yield return new("scan: traversal", get, "/r/..%2f..%2fetc%2fpasswd", HttpStatusCode.NotFound);
        yield return new("scan: SQL", get, "/r/'%20OR%20'1'='1", HttpStatusCode.NotFound);
        yield return new("scan: NUL", get, "/r/%00", Bad); // Kestrel refuses a NUL in the path itself
        yield return new("scan: 4 KB code", get, "/r/" + Long(4_000), HttpStatusCode.NotFound);
        yield return new("scan: 10 KB request line", get, "/r/" + Long(10_000), HttpStatusCode.RequestUriTooLong);
        yield return new("scan: POST", post, $"/r/{code}", HttpStatusCode.MethodNotAllowed, "{}");
        yield return new("scan: 20 KB cookie", get, $"/r/{code}", HttpStatusCode.RequestHeaderFieldsTooLarge,
            Headers: h => h.TryAddWithoutValidation("Cookie", "a=" + Long(20_000)));
        yield return new("scan: 100 headers", get, $"/r/{code}", HttpStatusCode.RequestHeaderFieldsTooLarge,
            Headers: h => { for (var i = 0; i < 100; i++) h.TryAddWithoutValidation($"X-H{i}", "v"); });
        yield return new("scan: regex-backtracking user agent", get, $"/r/{code}", HttpStatusCode.Found,
            Headers: h => h.TryAddWithoutValidation("User-Agent", "Mozilla/5.0 (" + string.Concat(Enumerable.Repeat("Linux; Android ", 400)) + Long(2_000, '(')));
        yield return new("scan: 8 KB user agent of one letter", get, $"/r/{code}", HttpStatusCode.Found,
            Headers: h => h.TryAddWithoutValidation("User-Agent", Long(8_000)));
        yield return new("scan: forged X-Forwarded-For from an untrusted peer", get, $"/r/{code}", HttpStatusCode.Found,
            Headers: h => h.TryAddWithoutValidation("X-Forwarded-For", "8.8.8.8, <script>alert(1)</script>, ::::"));
        yield return new("scan: garbage Forwarded header", get, $"/r/{code}", HttpStatusCode.Found,
            Headers: h => h.TryAddWithoutValidation("Forwarded", "for=\"[::1\";;;by=%%%"));

        // QR images
        foreach (var (name, query) in new[]
        {
            ("huge size", "size=999999"), ("negative size", "size=-1"), ("size not a number", "size=abc"),
            ("colour with CSS", "fg=red;background:url(x)"), ("colour not hex", "fg=%2312345g"), ("unknown ECC", "ecc=Z"),
            ("huge margin", "margin=1000"), ("no contrast", "fg=%23ffffff&bg=%23ffffff"),
        })
        {
            yield return new($"qr: {name}", get, $"/api/codes/{code}/qr.png?{query}", Bad);
        }

        yield return new("qr: SVG with a script colour", get, $"/api/codes/{code}/qr.svg?fg=%22%3E%3Cscript%3E", Bad);

        // Stats, CSV, lists
        foreach (var (name, query) in new[]
        {
            ("unknown time zone", "tz=Mars/Olympus_Mons"), ("time zone path traversal", "tz=../../../etc/localtime"),
            ("impossible date", "from=2026-13-45"), ("year 99999", "from=99999-01-01"), ("unknown granularity", "granularity=year"),
            ("SQL in a date", "from=2026-01-01'%3B--"),
        })
        {
            yield return new($"stats: {name}", get, $"/api/codes/{code}/stats?{query}", Bad);
        }

        yield return new("csv: garbage period", get, $"/api/codes/{code}/scans.csv?from=yesterday", Bad);
        yield return new("list: limit 0", get, "/api/codes?limit=0", Bad);
        yield return new("list: limit 100000", get, "/api/codes?limit=100000", Bad);
        yield return new("list: forged cursor", get, "/api/codes?cursor=eyJpZCI6LTF9%27--", Bad);
        yield return new("list: unknown sort", get, "/api/codes?sort=1;DROP", Bad);

        // Accounts and authentication
        yield return new("keys: huge name", post, "/api/keys", Bad, Create($"\"name\": \"{Long(5_000)}\""));
        yield return new("owners: unknown role", post, "/api/owners", Bad, Create("\"name\": \"mallory\", \"role\": \"root\""));
        yield return new("keys: revoke a non-number", HttpMethod.Delete, "/api/keys/abc", HttpStatusCode.NotFound);
        yield return new("auth: 10 KB bearer token", get, "/api/codes", HttpStatusCode.Unauthorized,
            Headers: h => h.Authorization = new AuthenticationHeaderValue("Bearer", Long(10_000)));
        yield return new("auth: SQL as the key", get, "/api/codes", HttpStatusCode.Unauthorized,
            Headers: h => { h.Authorization = null; h.TryAddWithoutValidation("X-Api-Key", "' OR 1=1 --"); });
        yield return new("auth: Basic instead of Bearer", get, "/api/codes", HttpStatusCode.Unauthorized,
            Headers: h => h.Authorization = new AuthenticationHeaderValue("Basic", "YWRtaW46YWRtaW4="));
    }

    [Fact]
    public async Task Every_hostile_input_gets_a_clear_4xx_or_its_documented_answer_and_stores_nothing()
    {
        var code = (await _deployment.Http.CreateCodeAsync("https://example.org/victim", "victim-code")).GetProperty("code").GetString()!;
        var codesBefore = await _deployment.ScalarAsync("SELECT count(*) FROM qr_codes");
        var cases = Cases(code).ToList();
        Assert.True(cases.Count >= 50, $"only {cases.Count} cases");

        // No default headers: each case decides how (and whether) it authenticates.
        using var raw = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, Expect100ContinueTimeout = TimeSpan.FromSeconds(10) }) { BaseAddress = _deployment.BaseAddress };
        var failures = new List<string>();
        var scansExpected = 0;
        foreach (var c in cases)
        {
            using var request = new HttpRequestMessage(c.Method, c.Path);
            if (c.Json is not null)
            {
                request.Content = new StringContent(c.Json, Encoding.UTF8);
                request.Content.Headers.ContentType = c.ContentType is null ? null : new MediaTypeHeaderValue(c.ContentType);
            }

            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", GatewayHost.ApiKey);
            c.Headers?.Invoke(request.Headers);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                using var response = await raw.SendAsync(request, timeout.Token);
                var status = response.StatusCode;
                var body = await response.Content.ReadAsStringAsync(timeout.Token);
                var mediaType = response.Content.Headers.ContentType?.MediaType;
                if (status != c.Expected)
                {
                    failures.Add($"{c.Name}: expected {(int)c.Expected}, got {(int)status} {Truncate(body)}");
                }
                else if ((int)status >= 400 && !ServerRefusals.Contains(c.Name) && mediaType != "application/problem+json")
                {
                    failures.Add($"{c.Name}: {(int)status} without a problem+json body ({mediaType})");
                }
                else if (body.Contains("   at ", StringComparison.Ordinal) || body.Contains("Exception", StringComparison.Ordinal))
                {
                    failures.Add($"{c.Name}: the answer shows internals: {Truncate(body)}");
                }

                if (status == HttpStatusCode.Found)
                {
                    scansExpected++;
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or HttpRequestException)
            {
                failures.Add($"{c.Name}: no answer within 10 s ({ex.GetType().Name})");
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} cases failed:\n" + string.Join('\n', failures));

        // Nothing stored: no new code, the victim's target untouched, only the redirected scans recorded,
        // and the forged forwarded address is not what was stored.
        Assert.Equal(codesBefore, await _deployment.ScalarAsync("SELECT count(*) FROM qr_codes"));
        Assert.Equal(1, await _deployment.ScalarAsync("SELECT count(*) FROM qr_codes WHERE code = $1 AND target_url = 'https://example.org/victim'", code));
        Assert.Equal(scansExpected, await _deployment.WaitForScanRowsAsync(code));
        Assert.Equal(0, await _deployment.ScalarAsync("SELECT count(*) FROM qr_scans WHERE ip_address LIKE '8.8.8.%'"));
        // No case made the host log an error (gateway and co-hosted silo alike).
        Assert.True(_deployment.Logs.Split('\n').All(line => !line.StartsWith("Error:", StringComparison.Ordinal) && !line.StartsWith("Critical:", StringComparison.Ordinal)), _deployment.Logs);
    }

    [Fact]
    public async Task Api_and_scan_answers_carry_security_headers_and_no_server_banner()
    {
        var code = (await _deployment.Http.CreateCodeAsync("https://example.org/headers")).GetProperty("code").GetString()!;
        foreach (var path in new[] { "/api/codes", $"/r/{code}", "/r/nosuchcode", $"/api/codes/{code}/qr.svg" })
        {
            using var response = await _deployment.Http.GetAsync(path);
            Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
            Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
            Assert.Contains("default-src 'none'", response.Headers.GetValues("Content-Security-Policy").Single());
            Assert.False(response.Headers.Contains("Server"), path);
        }
    }

    private static string Truncate(string s) => s.Length <= 300 ? s : s[..300] + "…";
}
