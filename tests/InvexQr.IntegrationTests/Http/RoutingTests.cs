using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Http;

/// <summary>
/// Smart routing end to end: every rule kind through <c>/r/{code}</c> on the real gateway and its co-hosted silo, the
/// rule or variant stored with each scan and counted in the stats, fallbacks, validation and the preview. Instants the
/// host's clock cannot reach (the instant of a DST change) are the pure function's tests (<c>RoutingTableTests</c>).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class RoutingTests(PostgresServer postgres, SharedGatewayHost shared) : IClassFixture<SharedGatewayHost>, IAsyncLifetime
{
    private const string IPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
    private const string Pixel = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.6167.101 Mobile Safari/537.36";
    private const string IPad = "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1";
    private const string WindowsChrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36";
    private const string BritishAddress = "81.2.69.142"; // GB in the pinned GeoLite2 City

    private GatewayHost _host = null!;

    public async Task InitializeAsync() => _host = await shared.GetAsync(postgres, new Dictionary<string, string?>
    {
        ["Network:TrustedProxies:0"] = "127.0.0.1",
    });

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Device_and_os_rules_send_each_phone_to_its_store()
    {
        var code = await CreateAsync(_host.Http, "https://example.org/web", new
        {
            rules = new object[]
            {
                new { id = "android", when = new { os = new[] { "android" } }, target = "https://play.google.com/store/apps/details?id=org.example" },
                new { id = "iphone", when = new { os = new[] { "ios" }, device = new[] { "mobile" } }, target = "https://apps.apple.com/app/id123" },
                new { id = "tablet", when = new { device = new[] { "tablet" } }, target = "https://example.org/tablet" },
            },
        });

        Assert.Equal("https://apps.apple.com/app/id123", await LocationAsync(code, IPhone));
        Assert.Equal("https://play.google.com/store/apps/details?id=org.example", await LocationAsync(code, Pixel));
        Assert.Equal("https://example.org/tablet", await LocationAsync(code, IPad));
        Assert.Equal("https://example.org/web", await LocationAsync(code, WindowsChrome));

        // Each row says which rule sent it.
        await _host.FlushAsync();
        Assert.Equal(1, await _host.ScalarAsync(
            "SELECT count(*) FROM qr_scans s JOIN qr_codes c ON c.id = s.qr_code_id WHERE c.code = $1 AND s.route = 'iphone' AND s.os = 'iOS'", code));
        Assert.Equal(1, await _host.ScalarAsync(
            "SELECT count(*) FROM qr_scans s JOIN qr_codes c ON c.id = s.qr_code_id WHERE c.code = $1 AND s.route = 'default' AND s.device_type = 'desktop'", code));
    }

    [Fact]
    public async Task Country_from_a_trusted_proxy_header_and_the_preferred_language_route()
    {
        var code = await CreateAsync(_host.Http, "https://example.org/world", new
        {
            rules = new object[]
            {
                new { id = "uk", when = new { country = new[] { "GB" } }, target = "https://example.co.uk/" },
                new { id = "french", when = new { language = new[] { "fr" } }, target = "https://example.fr/" },
            },
        });

        Assert.Equal("https://example.co.uk/", await LocationAsync(code, IPhone, ("X-Forwarded-For", BritishAddress)));
        Assert.Equal("https://example.fr/", await LocationAsync(code, IPhone, ("Accept-Language", "fr-CA,fr;q=0.9,en;q=0.5")));
        Assert.Equal("https://example.org/world", await LocationAsync(code, IPhone, ("Accept-Language", "en-GB,en;q=0.9,fr;q=0.5")));
        // The first rule wins: a French speaker in Britain gets the British site.
        Assert.Equal("https://example.co.uk/", await LocationAsync(code, IPhone, ("X-Forwarded-For", BritishAddress), ("Accept-Language", "fr")));
    }

    [Fact]
    public async Task A_time_window_open_now_in_its_zone_routes_and_one_closed_now_does_not()
    {
        const string zone = "America/New_York";
        var local = TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, TimeZoneInfo.FindSystemTimeZoneById(zone));
        string Hm(DateTimeOffset t) => t.ToString("HH:mm", CultureInfo.InvariantCulture);
        var code = await CreateAsync(_host.Http, "https://example.org/closed", new
        {
            timeZone = zone,
            rules = new object[]
            {
                new { id = "later", when = new { time = new { from = Hm(local.AddHours(3)), to = Hm(local.AddHours(4)) } }, target = "https://example.org/later" },
                new
                {
                    id = "open",
                    when = new
                    {
                        time = new
                        {
                            from = Hm(local.AddHours(-1)),
                            to = Hm(local.AddHours(1)),
                            days = new[] { local.AddHours(-1).DayOfWeek.ToString()[..3].ToLowerInvariant() },
                        },
                    },
                    target = "https://example.org/open",
                },
            },
        });

        Assert.Equal("https://example.org/open", await LocationAsync(code, IPhone));
    }

    [Fact]
    public async Task A_time_window_in_a_zone_on_daylight_saving_time_uses_that_offset_not_the_standard_one()
    {
        // At any date one of these zones is on daylight saving time: a window of the next half hour on its summer
        // clock is open now, and would be shut for an evaluator that used the zone's standard offset (an hour behind).
        var zone = new[] { "Europe/Paris", "Australia/Sydney", "America/New_York", "America/Santiago" }
            .Select(TimeZoneInfo.FindSystemTimeZoneById).First(z => z.IsDaylightSavingTime(DateTimeOffset.UtcNow));
        var summer = TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, zone);
        var standard = DateTimeOffset.UtcNow.ToOffset(zone.BaseUtcOffset);
        Assert.Equal(TimeSpan.FromHours(1), summer.Offset - standard.Offset);
        string Hm(DateTimeOffset t) => t.ToString("HH:mm", CultureInfo.InvariantCulture);
        var code = await CreateAsync(_host.Http, "https://example.org/standard-clock", new
        {
            timeZone = zone.Id,
            rules = new object[]
            {
                new { id = "summer", when = new { time = new { from = Hm(summer.AddMinutes(-1)), to = Hm(summer.AddMinutes(30)) } }, target = "https://example.org/summer-clock" },
            },
        });

        Assert.Equal("https://example.org/summer-clock", await LocationAsync(code, IPhone));
    }

    [Fact]
    public async Task A_scheduled_target_takes_over_exactly_at_its_instant()
    {
        // Whole seconds, three ahead: a scan before the instant gets the old target, the first one after it the new.
        var now = DateTimeOffset.UtcNow;
        var at = new DateTimeOffset(now.Ticks - now.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero).AddSeconds(3);
        var code = await CreateAsync(_host.Http, "https://example.org/before", new
        {
            schedule = new object[] { new { at, target = "https://example.org/after" } },
        });

        Assert.True(DateTimeOffset.UtcNow < at, "the set-up took longer than the three seconds the test allows");
        Assert.Equal("https://example.org/before", await LocationAsync(code, IPhone));
        while (DateTimeOffset.UtcNow < at && await Polling.Pause(10))
        {
        }

        Assert.Equal("https://example.org/after", await LocationAsync(code, IPhone));
        using var head = await _host.Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/r/{code}"));
        Assert.Equal("https://example.org/after", head.Headers.Location?.ToString());
    }

    [Fact]
    public async Task An_ab_split_follows_its_weights_over_ten_thousand_visitors_is_sticky_and_counted_per_variant()
    {
        var code = await CreateAsync(_host.Http, "https://example.org/control", new
        {
            rules = new object[]
            {
                new
                {
                    id = "ab",
                    split = new object[]
                    {
                        new { id = "a", target = "https://example.org/a", weight = 50 },
                        new { id = "b", target = "https://example.org/b", weight = 30 },
                        new { id = "c", target = "https://example.org/c", weight = 20 },
                    },
                },
            },
        });

        // 10,000 visitors (one address each, through the trusted proxy), 16 at a time; every tenth comes back.
        const int visitors = 10_000;
        var seen = new string[visitors];
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < visitors; i = Interlocked.Increment(ref next))
            {
                var address = $"198.18.{i / 250}.{i % 250 + 1}";
                seen[i] = (await LocationAsync(code, IPhone, ("X-Forwarded-For", address)))!;
                if (i % 10 == 0)
                {
                    Assert.Equal(seen[i], await LocationAsync(code, IPhone, ("X-Forwarded-For", address))); // sticky
                }
            }
        })));

        var counts = seen.GroupBy(v => v).ToDictionary(g => g.Key, g => g.Count());
        foreach (var (target, weight) in new[] { ("https://example.org/a", 0.5), ("https://example.org/b", 0.3), ("https://example.org/c", 0.2) })
        {
            // Within 4 standard deviations of the weight (about ±2 percentage points at 10,000 visitors).
            var sigma = Math.Sqrt(visitors * weight * (1 - weight));
            Assert.InRange(counts.GetValueOrDefault(target), visitors * weight - 4 * sigma, visitors * weight + 4 * sigma);
        }

        await _host.FlushAsync();
        var stats = await GetJsonAsync(_host.Http, $"/api/codes/{code}/stats");
        var routes = stats.GetProperty("routes").EnumerateArray().ToDictionary(r => r.GetProperty("route").GetString()!);
        long Returning(string target) => Enumerable.Range(0, visitors).LongCount(i => i % 10 == 0 && seen[i] == target);
        Assert.Equal(counts["https://example.org/a"] + Returning("https://example.org/a"), routes["ab/a"].GetProperty("scans").GetInt64());
        Assert.Equal(counts["https://example.org/c"] + Returning("https://example.org/c"), routes["ab/c"].GetProperty("scans").GetInt64());
        Assert.Equal("b", routes["ab/b"].GetProperty("variant").GetString());
        Assert.True(routes["ab/a"].GetProperty("margin95").GetDouble() is > 0 and < 0.02);
        // The rebuild from raw scans agrees with what the grains counted.
        var (exit, output) = await _host.RunSiloCommandAsync("rollups", "reconcile", "--code", code);
        Assert.True(exit == 0, output);
    }

    [Fact]
    public async Task Utm_parameters_and_the_scans_query_are_merged_into_the_target()
    {
        var code = await CreateAsync(_host.Http, "https://example.org/menu?lang=en#dinner", new
        {
            utm = new { source = "poster", medium = "qr", campaign = "spring 2026" },
            passQuery = true,
        });

        using var response = await Scan($"/r/{code}?table=12&utm_source=spoofed&lang=fr&note=caf%C3%A9", IPhone);
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal(
            "https://example.org/menu?lang=en&utm_source=poster&utm_medium=qr&utm_campaign=spring%202026&table=12&note=caf%C3%A9#dinner",
            response.Headers.Location?.OriginalString);
        Assert.Equal(
            "https://example.org/menu?lang=en&utm_source=poster&utm_medium=qr&utm_campaign=spring%202026#dinner",
            await LocationAsync(code, IPhone));
    }

    [Fact]
    public async Task Gone_codes_send_scans_to_their_fallback_or_their_owners_instead_of_the_410_page()
    {
        var owner = await _host.CreateOwnerClientAsync("routing-fallbacks-" + Guid.NewGuid().ToString("N")[..6]);
        using var set = await owner.PutAsJsonAsync("/api/routing/fallback", new { fallbackUrl = "https://example.org/owner-fallback" });
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        Assert.Equal("https://example.org/owner-fallback", (await GetJsonAsync(owner, "/api/routing/fallback")).GetProperty("fallbackUrl").GetString());

        // Its own fallback first.
        var own = await CreateAsync(owner, "https://example.org/live", new { fallbackUrl = "https://example.org/code-fallback" });
        using (var disable = await owner.PatchAsJsonAsync($"/api/codes/{own}", new { enabled = false }))
        {
            Assert.Equal(HttpStatusCode.OK, disable.StatusCode);
        }

        Assert.Equal("https://example.org/code-fallback", await LocationAsync(own, IPhone));

        // Out of scans, with none of its own: the owner's.
        using var created = await owner.PostAsJsonAsync("/api/codes", new { targetUrl = "https://example.org/once", maxScans = 1 });
        var once = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString()!;
        Assert.Equal("https://example.org/once", await LocationAsync(once, IPhone));
        Assert.Equal("https://example.org/owner-fallback", await LocationAsync(once, IPhone));
        Assert.Equal(1, await _host.WaitForScanRowsAsync(once)); // the fallback is not a recorded scan

        // An owner with no fallback still shows the 410 page.
        var plain = (await _host.Http.CreateCodeAsync("https://example.org/plain")).GetProperty("code").GetString()!;
        using (var disable = await _host.Http.PatchAsJsonAsync($"/api/codes/{plain}", new { enabled = false }))
        {
            Assert.Equal(HttpStatusCode.OK, disable.StatusCode);
        }

        using var gone = await Scan($"/r/{plain}", IPhone);
        Assert.Equal(HttpStatusCode.Gone, gone.StatusCode);

        using var bad = await owner.PutAsJsonAsync("/api/routing/fallback", new { fallbackUrl = "javascript:alert(1)" });
        await AssertProblemAsync(bad, "fallbackUrl");
    }

    [Fact]
    public async Task Bad_routing_is_a_400_naming_the_field_and_a_set_that_cannot_match_is_flagged()
    {
        using (var response = await _host.Http.PostAsJsonAsync("/api/codes", new
        {
            targetUrl = "https://example.org/",
            routing = new { rules = new object[] { new { when = new { os = new[] { "symbian" } }, target = "https://example.org/x" } } },
        }))
        {
            await AssertProblemAsync(response, "routing.rules[0].when.os");
        }

        using (var response = await _host.Http.PostAsJsonAsync("/api/codes", new
        {
            targetUrl = "https://example.org/",
            routing = new { rules = new object[] { new { whne = new { os = new[] { "ios" } }, target = "https://example.org/x" } } },
        }))
        {
            await AssertProblemAsync(response, "routing.rules[0].whne");
        }

        using (var response = await _host.Http.PostAsJsonAsync("/api/codes", new
        {
            targetUrl = "https://example.org/",
            routing = new { rules = Enumerable.Range(0, 21).Select(i => new { when = new { country = new[] { "FR" } }, target = $"https://example.org/{i}" }) },
        }))
        {
            await AssertProblemAsync(response, "routing.rules");
        }

        using (var response = await _host.Http.PostAsJsonAsync("/api/codes", new
        {
            targetUrl = "https://example.org/",
            routing = new { rules = new object[] { new { target = "https://qr.example.com/r/loop" } } },
        }))
        {
            await AssertProblemAsync(response, "routing.rules[0].target");
        }

        using var flagged = await _host.Http.PostAsJsonAsync("/api/codes", new
        {
            targetUrl = "https://example.org/",
            routing = new
            {
                rules = new object[]
                {
                    new { id = "everyone", target = "https://example.org/all" },
                    new { id = "ios", when = new { os = new[] { "ios" } }, target = "https://example.org/ios" },
                },
            },
        });
        var body = JsonDocument.Parse(await flagged.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(HttpStatusCode.Created, flagged.StatusCode);
        var warning = Assert.Single(body.GetProperty("routingWarnings").EnumerateArray());
        Assert.Equal("routing.rules[1]", warning.GetProperty("field").GetString());

        // PATCH replaces the routing (seen by the very next scan) and null removes it.
        var code = body.GetProperty("code").GetString()!;
        Assert.Equal("https://example.org/all", await LocationAsync(code, IPhone));
        using (var patch = await _host.Http.PatchAsJsonAsync($"/api/codes/{code}", new { routing = new { rules = new object[] { new { when = new { os = new[] { "ios" } }, target = "https://example.org/ios" } } } }))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
            Assert.Empty(JsonDocument.Parse(await patch.Content.ReadAsStringAsync()).RootElement.GetProperty("routingWarnings").EnumerateArray());
        }

        Assert.Equal("https://example.org/ios", await LocationAsync(code, IPhone));
        using (var clear = await _host.Http.PatchAsync($"/api/codes/{code}", JsonContent.Create(JsonDocument.Parse("""{"routing":null}""").RootElement)))
        {
            Assert.Equal(HttpStatusCode.OK, clear.StatusCode);
            Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(await clear.Content.ReadAsStringAsync()).RootElement.GetProperty("routing").ValueKind);
        }

        Assert.Equal("https://example.org/", await LocationAsync(code, IPhone));
    }

    [Fact]
    public async Task The_preview_answers_with_the_same_function_the_grain_runs()
    {
        var code = await CreateAsync(_host.Http, "https://example.org/default", new
        {
            timeZone = "Europe/Paris",
            rules = new object[]
            {
                new { id = "ios-evening", when = new { os = new[] { "ios" }, country = new[] { "FR" }, time = new { from = "18:00", to = "23:00" } }, target = "https://example.org/soir" },
                new { id = "ab", when = new { language = new[] { "de" } }, split = new object[] { new { target = "https://example.org/a", weight = 3 }, new { target = "https://example.org/b", weight = 1 } } },
            },
        });

        // "A scan from an iPhone in France at 21:00 (Paris) would go to …"
        var evening = await PreviewAsync(code, new { os = "iOS", country = "fr", at = "2026-07-01T21:00:00+02:00" });
        Assert.Equal("https://example.org/soir", evening.GetProperty("target").GetString());
        Assert.Equal("ios-evening", evening.GetProperty("route").GetString());
        var morning = await PreviewAsync(code, new { os = "ios", country = "FR", at = "2026-07-01T09:00:00+02:00" });
        Assert.Equal("default", morning.GetProperty("route").GetString());

        var split = await PreviewAsync(code, new { language = "de-DE", visitor = "someone" });
        Assert.StartsWith("ab/", split.GetProperty("route").GetString());
        Assert.Equal([0.75, 0.25], split.GetProperty("split").EnumerateArray().Select(v => v.GetProperty("share").GetDouble()));

        // Unsaved routing, as the dashboard's editor previews it; nothing is stored.
        var unsaved = await PreviewAsync(code, new { device = "desktop", routing = new { rules = new object[] { new { when = new { device = new[] { "desktop" } }, target = "https://example.org/desk" } } } });
        Assert.Equal("https://example.org/desk", unsaved.GetProperty("target").GetString());
        Assert.Equal("https://example.org/default", await LocationAsync(code, WindowsChrome));

        using var bad = await _host.Http.PostAsJsonAsync($"/api/codes/{code}/routing/preview", new { device = "phone" });
        await AssertProblemAsync(bad, "device");
        using var unknown = await _host.Http.PostAsJsonAsync($"/api/codes/{code}/routing/preview", new { oss = "ios" });
        await AssertProblemAsync(unknown, "oss");
        using var missing = await _host.Http.PostAsJsonAsync("/api/codes/no-such-code/routing/preview", new { os = "ios" });
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task The_openapi_document_describes_routing_and_its_endpoints()
    {
        var document = await GetJsonAsync(_host.Http, "/openapi/v1.json");
        var paths = document.GetProperty("paths");
        Assert.True(paths.GetProperty("/api/codes/{code}/routing/preview").TryGetProperty("post", out _));
        Assert.True(paths.GetProperty("/api/routing/fallback").TryGetProperty("put", out _));
        var schemas = document.GetProperty("components").GetProperty("schemas");
        Assert.True(schemas.TryGetProperty("RoutingRules", out var routing), string.Join(", ", schemas.EnumerateObject().Select(s => s.Name)));
        foreach (var field in new[] { "rules", "schedule", "utm", "passQuery", "fallbackUrl", "timeZone" })
        {
            Assert.True(routing.GetProperty("properties").TryGetProperty(field, out _), field);
        }
    }

    private async Task<string> CreateAsync(HttpClient http, string targetUrl, object routing)
    {
        using var response = await http.PostAsJsonAsync("/api/codes", new { targetUrl, routing });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("code").GetString()!;
    }

    private async Task<HttpResponseMessage> Scan(string path, string userAgent, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("User-Agent", userAgent);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await _host.Http.SendAsync(request);
    }

    private async Task<string?> LocationAsync(string code, string userAgent, params (string Name, string Value)[] headers)
    {
        using var response = await Scan($"/r/{code}", userAgent, headers);
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        return response.Headers.Location?.OriginalString;
    }

    private async Task<JsonElement> PreviewAsync(string code, object body)
    {
        using var response = await _host.Http.PostAsJsonAsync($"/api/codes/{code}/routing/preview", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<JsonElement> GetJsonAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, string field)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = JsonDocument.Parse(text).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out _), $"expected an error for {field}: {text}");
    }
}
