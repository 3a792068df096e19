using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using InvexQr.IntegrationTests.Infrastructure;
using InvexQr.Silo.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace InvexQr.IntegrationTests.Http;

/// <summary>
/// What operators scrape and open on a gateway that co-hosts its silo: health, Prometheus metrics and the Orleans
/// dashboard, over real HTTP. A separate silo's own port is tested with real processes (Processes/SeparateSiloEndpointsTests).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class OperationsEndpointsTests(PostgresServer postgres, SharedGatewayHost shared, ITestOutputHelper output)
    : IClassFixture<SharedGatewayHost>, IAsyncLifetime
{
    private GatewayHost _deployment = null!;

    public async Task InitializeAsync() =>
        _deployment = await shared.GetAsync(postgres, new Dictionary<string, string?> { ["Network:TrustedProxies:0"] = "127.0.0.1" });

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_gateway_and_its_silo_serve_health_and_prometheus_metrics_that_count_scans_by_outcome()
    {
        var code = (await _deployment.Http.CreateCodeAsync("https://example.org/metrics")).GetProperty("code").GetString()!;
        using var plain = _deployment.CreateClient();

        using (var live = await plain.GetAsync("/health/live"))
        {
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        }

        using (var ready = await plain.GetAsync("/health/ready"))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            var checks = JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement.GetProperty("checks");
            Assert.Equal("Healthy", checks.GetProperty("postgres").GetProperty("status").GetString());

            // Older than Geo:MaxAgeDays (60) by its build date, the database is Degraded with the reason.
            var geo = checks.GetProperty("geolocation");
            var built = _deployment.Get<InvexQr.Enrichment.Geo.GeoLocator>().BuildDate!.Value;
            if ((DateTimeOffset.UtcNow - built).TotalDays > 60)
            {
                Assert.Equal("Degraded", geo.GetProperty("status").GetString());
                Assert.Contains("days old, more than Geo:MaxAgeDays (60)", geo.GetProperty("description").GetString());
            }
            else
            {
                Assert.Equal("Healthy", geo.GetProperty("status").GetString());
            }

            var metrics = await plain.GetStringAsync("/metrics");
            Assert.Matches($@"invexqr_geo_database_build_timestamp_seconds({{[^}}]*}})? {built.ToUnixTimeSeconds()}\b", metrics);

            // Every counter is a series from start, errors that never fired included.
            foreach (var outcome in InvexQr.Gateway.Hosting.GatewayMetrics.Outcomes)
            {
                Assert.Matches($@"invexqr_scans_total{{[^}}]*outcome=""{outcome}""", metrics);
            }

            foreach (var writer in InvexQr.Silo.Hosting.SiloMetrics.Writers)
            {
                Assert.Matches($@"invexqr_db_errors_total{{[^}}]*writer=""{writer}""", metrics);
            }

            foreach (var counter in new[] { "invexqr_scan_retries_total", "invexqr_scan_sink_refused_total", "invexqr_scan_spool_full_total",
                "invexqr_scan_spool_appended_total", "invexqr_scan_spool_replayed_total", "invexqr_scan_sink_written_total",
                "invexqr_webhook_delivered_total", "invexqr_webhook_failed_attempts_total", "invexqr_webhook_rested_seconds_total" })
            {
                Assert.Contains(counter + "{", metrics);
            }

            Assert.Matches(@"invexqr_silo_cpu_pressure(_ratio)?({[^}]*})? [0-9.]+", metrics);
        }

        // Meters may be shared by every host of the test process: the counts are compared before and after.
        await _deployment.FlushAsync();
        var before = await plain.GetStringAsync("/metrics");

        await ScanMixAsync(_deployment.Http, code);
        var gateway = await ScrapeUntilAsync(plain, m => Delta(before, m, "invexqr_scans_total") >= 7);
        Assert.Equal(5, Delta(before, gateway, "invexqr_scans_total", "outcome=\"redirect\""));
        Assert.Equal(1, Delta(before, gateway, "invexqr_scans_total", "outcome=\"bot\""));
        Assert.Equal(1, Delta(before, gateway, "invexqr_scans_total", "outcome=\"not_found\""));
        Assert.Contains("invexqr_redirect_duration_seconds_bucket{", gateway);
        Assert.Contains("invexqr_enrichment_cache_lookups_total{", gateway);
        Assert.Contains("kestrel_", gateway);

        // The silo's sink metrics, on the same port, once the sink has settled the scans and a rollup flush has
        // written their counters (the sink's own timer may be the one still writing).
        await _deployment.FlushAsync();
        var silo = await ScrapeUntilAsync(plain, m => Delta(before, m, "invexqr_scan_sink_written_total") >= 6
            && m.Contains("invexqr_rollup_sink_flush_seconds_bucket{"));
        Assert.Equal(6, Delta(before, silo, "invexqr_scan_sink_written_total"));
        Assert.Contains("invexqr_scan_sink_queue_depth", silo);
        Assert.Contains("invexqr_scan_sink_flush_seconds_bucket{", silo);
        Assert.Contains("invexqr_rollup_sink_pending", silo);
        Assert.Contains("invexqr_rollup_sink_flush_seconds_bucket{", silo);
        Assert.Contains("orleans_", silo); // Orleans' own meters

        // Metrics are about traffic, never about who: the client's address appears in neither.
        Assert.DoesNotContain("81.2.69.", gateway);
        Assert.DoesNotContain("81.2.69.", silo);
    }

    [Fact]
    public async Task The_orleans_dashboard_needs_the_admin_key()
    {
        using var http = _deployment.CreateClient();

        using var anonymous = await http.GetAsync("/orleans/");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.StartsWith("Basic", anonymous.Headers.WwwAuthenticate.ToString());

        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:wrong-key")));
        using var wrong = await http.GetAsync("/orleans/");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);

        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + GatewayHost.ApiKey)));
        using var page = await http.GetAsync("/orleans/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("html", page.Content.Headers.ContentType?.MediaType ?? "");
    }

    [Fact]
    public async Task The_orleans_dashboard_is_on_the_gateway_port_for_the_admin_key_only_and_runs_in_a_browser_under_its_policy()
    {
        using var http = _deployment.CreateClient();

        // Never anonymous, and an owner's API key, valid for the owner's API on this same port, does not open it.
        using (var anonymous = await http.GetAsync("/orleans/"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.StartsWith("Basic", anonymous.Headers.WwwAuthenticate.ToString());
        }

        using (var created = await _deployment.Http.PostAsJsonAsync("/api/owners", new { name = "dora" }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var ownerKey = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("apiKey").GetProperty("key").GetString();
            using var asOwner = new HttpRequestMessage(HttpMethod.Get, "/orleans/") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", ownerKey) } };
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(asOwner)).StatusCode);
            using var ownerApi = new HttpRequestMessage(HttpMethod.Get, "/api/codes") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", ownerKey) } };
            Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(ownerApi)).StatusCode); // the API's default scheme is untouched
        }

        // The admin key opens it in a real browser (HTTP Basic, as a browser prompts for it). The page runs its
        // scripts under the dashboard's own policy with no violation, and shows this silo, live.
        var siloName = _deployment.Get<IConfiguration>()["Orleans:SiloName"]!;
        await using var chromium = await HeadlessChromium.LaunchAsync();
        var context = await chromium.NewContextAsync(new()
        {
            BaseURL = _deployment.BaseAddress.ToString(),
            HttpCredentials = new() { Username = "admin", Password = GatewayHost.ApiKey },
        });
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        var failed = new List<string>();
        var answered = 0;
        page.PageError += (_, e) => errors.Add(e);
        page.Response += (_, r) =>
        {
            Interlocked.Increment(ref answered);
            if (r.Status >= 400)
            {
                failed.Add($"{r.Status} {r.Url}");
            }
        };
        var response = await page.GotoAsync("/orleans/");
        Assert.NotNull(response);
        Assert.Equal(200, response.Status);
        Assert.Equal(CoHostedSilo.OrleansDashboardPolicy, (await response.AllHeadersAsync())["content-security-policy"]);
        Directory.CreateDirectory(DashboardBrowserTests.ScreenshotDir);
        var screenshot = Path.Combine(DashboardBrowserTests.ScreenshotDir, "orleans-dashboard-co-hosted.png");
        try
        {
            await page.GetByText("Active silos").WaitForAsync(new() { Timeout = 20_000 });
            await page.GetByRole(AriaRole.Link, new() { Name = "Silos" }).ClickAsync();
            await page.GetByText(siloName, new() { Exact = true }).WaitForAsync(new() { Timeout = 20_000 }); // this host, as a silo

            // A few of its periodic refreshes (each a JSON call), for violations or errors to show.
            var shown = Volatile.Read(ref answered);
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (Volatile.Read(ref answered) < shown + 3 && DateTime.UtcNow < deadline && await Polling.Pause())
            {
            }

            Assert.True(Volatile.Read(ref answered) >= shown + 3, $"the dashboard refreshed {Volatile.Read(ref answered) - shown} times in 20 s");
        }
        finally
        {
            await page.ScreenshotAsync(new() { Path = screenshot });
            output.WriteLine($"screenshot: {screenshot}");
            output.WriteLine("CSP violations: " + string.Join(" | ", await HeadlessChromium.CspViolationsAsync(page)));
            output.WriteLine("page errors: " + string.Join(" | ", errors));
            output.WriteLine("failed requests: " + string.Join(" | ", failed));
        }

        Assert.Empty(await HeadlessChromium.CspViolationsAsync(page));
        Assert.Empty(errors);
        Assert.Empty(failed);
    }

    /// <summary>5 scans of <paramref name="code"/> from one phone at 81.2.69.142, one of an unknown code, one by a bot: 6 written.</summary>
    internal static async Task ScanMixAsync(HttpClient http, string code)
    {
        for (var i = 0; i < 5; i++)
        {
            (await http.ScanFromAsync(code, "81.2.69.142", AnalyticsTests.IPhone)).Dispose();
        }

        (await http.GetAsync("/r/nosuchcode")).Dispose();
        using var bot = new HttpRequestMessage(HttpMethod.Get, $"/r/{code}");
        bot.Headers.UserAgent.ParseAdd("Googlebot/2.1 (+http://www.google.com/bot.html)");
        (await http.SendAsync(bot)).Dispose();
    }

    /// <summary>
    /// Scrapes <c>/metrics</c> until <paramref name="done"/> holds or 10 s have passed: the exporter answers a scrape
    /// from a copy up to 300 ms old, so what just happened may be missing from the first one.
    /// </summary>
    private static async Task<string> ScrapeUntilAsync(HttpClient http, Func<string, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        var metrics = await http.GetStringAsync("/metrics");
        while (!done(metrics) && DateTime.UtcNow < deadline && await Polling.Pause())
        {
            metrics = await http.GetStringAsync("/metrics");
        }

        return metrics;
    }

    private static double Delta(string before, string after, string metric, string label = "") =>
        Prometheus.Sample(after, metric, label) - Prometheus.Sample(before, metric, label);
}
