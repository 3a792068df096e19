using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Processes;

/// <summary>
/// The operators' endpoints of a separate silo process, the layout Kubernetes runs: its own HTTP port serves health,
/// Prometheus metrics and the Orleans dashboard; its Orleans ports take only the cluster's certificates (issue 19). The same endpoints on a co-hosting gateway: Http/OperationsEndpointsTests.
/// </summary>
[Collection(ProcessesCollection.Name)]
public sealed class SeparateSiloEndpointsTests(PostgresServer postgres)
{
    [Fact]
    public async Task A_separate_silo_serves_health_metrics_of_its_sinks_and_the_orleans_dashboard_for_the_admin_key_only()
    {
        await using var deployment = await Deployment.StartAsync(
            postgres, silos: 1, gatewaySettings: new Dictionary<string, string> { ["Network__TrustedProxies__0"] = "127.0.0.1" });
        var silo = deployment.Silos[0];
        var code = (await deployment.Http.CreateCodeAsync("https://example.org/silo-metrics")).GetProperty("code").GetString()!;
        using var plain = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };

        foreach (var process in new[] { deployment.Gateway, silo })
        {
            using var live = await plain.GetAsync(new Uri(process.BaseAddress, "/health/live"));
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
            using var ready = await plain.GetAsync(new Uri(process.BaseAddress, "/health/ready"));
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            var checks = JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement.GetProperty("checks");
            Assert.Equal("Healthy", checks.GetProperty("postgres").GetProperty("status").GetString());
        }

        await Http.OperationsEndpointsTests.ScanMixAsync(deployment.Http, code);

        // The silo's sink metrics catch up within a flush or two (this process counted nothing else).
        var deadline = DateTime.UtcNow.AddSeconds(10);
        string metrics;
        do
        {
            metrics = await plain.GetStringAsync(new Uri(silo.BaseAddress, "/metrics"));
        }
        while ((Prometheus.Sample(metrics, "invexqr_scan_sink_written_total") < 6 || !metrics.Contains("invexqr_rollup_sink_flush_seconds_bucket{"))
               && DateTime.UtcNow < deadline && await Polling.Pause());

        Assert.Equal(6, Prometheus.Sample(metrics, "invexqr_scan_sink_written_total"));
        Assert.Contains("invexqr_scan_sink_queue_depth", metrics);
        Assert.Contains("invexqr_scan_sink_flush_seconds_bucket{", metrics);
        Assert.Contains("invexqr_rollup_sink_pending", metrics);
        Assert.Contains("invexqr_rollup_sink_flush_seconds_bucket{", metrics);
        Assert.Contains("orleans_", metrics);
        Assert.DoesNotContain("81.2.69.", metrics);

        using var http = new HttpClient { BaseAddress = silo.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
        using (var anonymous = await http.GetAsync("/orleans/"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.StartsWith("Basic", anonymous.Headers.WwwAuthenticate.ToString());
        }

        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:wrong-key")));
        using (var wrong = await http.GetAsync("/orleans/"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + Deployment.ApiKey)));
        using var page = await http.GetAsync("/orleans/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("html", page.Content.Headers.ContentType?.MediaType ?? "");

        // Its Orleans gateway port, which the gateway process reached over mutual TLS above, refuses anyone else.
        await Http.ClusterTransportChecks.AssertOnlyClusterMembersConnectAsync(deployment.ConnectionString, deployment.ClusterId, () => silo.Output);
    }
}
