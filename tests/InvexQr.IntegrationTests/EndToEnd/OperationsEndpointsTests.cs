using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.EndToEnd;

/// <summary>What operators scrape and open: health, Prometheus metrics and the Orleans dashboard, over real HTTP.</summary>
[Collection(PostgresCollection.Name)]
public sealed class OperationsEndpointsTests(PostgresServer postgres)
{
    [Fact]
    public async Task Both_processes_serve_health_and_prometheus_metrics_that_count_scans_by_outcome()
    {
        await using var deployment = await Deployment.StartAsync(
            postgres, gatewaySettings: new Dictionary<string, string> { ["Network__TrustedProxies__0"] = "127.0.0.1" });
        var code = (await deployment.Http.CreateCodeAsync("https://example.org/metrics")).GetProperty("code").GetString()!;
        using var plain = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };

        foreach (var process in new[] { deployment.Gateway, deployment.Silos[0] })
        {
            using var live = await plain.GetAsync(new Uri(process.BaseAddress, "/health/live"));
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
            using var ready = await plain.GetAsync(new Uri(process.BaseAddress, "/health/ready"));
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            var checks = JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement.GetProperty("checks");
            Assert.Equal("Healthy", checks.GetProperty("postgres").GetProperty("status").GetString());
        }

        for (var i = 0; i < 5; i++)
        {
            (await deployment.Http.ScanFromAsync(code, "81.2.69.142", AnalyticsTests.IPhone)).Dispose();
        }

        (await deployment.Http.GetAsync("/r/nosuchcode")).Dispose();
        var bot = new HttpRequestMessage(HttpMethod.Get, $"/r/{code}");
        bot.Headers.UserAgent.ParseAdd("Googlebot/2.1 (+http://www.google.com/bot.html)");
        (await deployment.Http.SendAsync(bot)).Dispose();

        var gateway = await plain.GetStringAsync(new Uri(deployment.Gateway.BaseAddress, "/metrics"));
        Assert.Equal(5, Prometheus.Sample(gateway, "invexqr_scans_total", "outcome=\"redirect\""));
        Assert.Equal(1, Prometheus.Sample(gateway, "invexqr_scans_total", "outcome=\"bot\""));
        Assert.Equal(1, Prometheus.Sample(gateway, "invexqr_scans_total", "outcome=\"not_found\""));
        Assert.Contains("invexqr_redirect_duration_seconds_bucket{", gateway);
        Assert.Contains("invexqr_enrichment_cache_lookups_total{", gateway);
        Assert.Contains("kestrel_", gateway);

        // The silo's sink metrics catch up within a flush or two.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        string silo;
        do
        {
            silo = await plain.GetStringAsync(new Uri(deployment.Silos[0].BaseAddress, "/metrics"));
        }
        while (Prometheus.Sample(silo, "invexqr_scan_sink_written_total") < 6 && DateTime.UtcNow < deadline && await Polling.Pause());

        Assert.Equal(6, Prometheus.Sample(silo, "invexqr_scan_sink_written_total"));
        Assert.Contains("invexqr_scan_sink_queue_depth", silo);
        Assert.Contains("invexqr_scan_sink_flush_seconds_bucket{", silo);
        Assert.Contains("invexqr_rollup_sink_pending", silo);
        // Written once the scans' counters were flushed (every 2 s).
        deadline = DateTime.UtcNow.AddSeconds(10);
        while (!silo.Contains("invexqr_rollup_sink_flush_seconds_bucket{") && DateTime.UtcNow < deadline && await Polling.Pause())
        {
            silo = await plain.GetStringAsync(new Uri(deployment.Silos[0].BaseAddress, "/metrics"));
        }

        Assert.Contains("invexqr_rollup_sink_flush_seconds_bucket{", silo);
        Assert.Contains("orleans_", silo); // Orleans' own meters

        // Metrics are about traffic, never about who: the client's address appears in neither.
        Assert.DoesNotContain("81.2.69.", gateway);
        Assert.DoesNotContain("81.2.69.", silo);
    }

    [Fact]
    public async Task The_orleans_dashboard_needs_the_admin_key()
    {
        await using var deployment = await Deployment.StartAsync(postgres);
        using var http = new HttpClient { BaseAddress = deployment.Silos[0].BaseAddress, Timeout = TimeSpan.FromSeconds(10) };

        using var anonymous = await http.GetAsync("/orleans/");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.StartsWith("Basic", anonymous.Headers.WwwAuthenticate.ToString());

        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:wrong-key")));
        using var wrong = await http.GetAsync("/orleans/");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);

        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + Deployment.ApiKey)));
        using var page = await http.GetAsync("/orleans/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("html", page.Content.Headers.ContentType?.MediaType ?? "");
    }
}
