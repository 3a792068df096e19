using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using InvexQr.Gateway.Hosting;
using InvexQr.IntegrationTests.Infrastructure;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace InvexQr.IntegrationTests.EndToEnd;

/// <summary>
/// <c>Gateway:CoHostSilo=true</c>: one process is the gateway and the only silo. Everything a
/// deployment with separate silos does works: migrations, the API, scans recorded and counted, and a
/// graceful stop that drains the scan sink.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class CoHostedSiloTests(PostgresServer postgres, ITestOutputHelper output)
{
    [Fact]
    public async Task A_gateway_that_hosts_its_own_silo_records_every_scan_and_drains_on_SIGTERM()
    {
        await using var deployment = await StartCoHostedAsync();

        // Migrations ran in the gateway (there is no other process to run them), and the API works.
        Assert.Equal(1, await deployment.ScalarAsync("SELECT count(*) FROM invexqr_instance"));
        var code = (await deployment.Http.CreateCodeAsync("https://example.org/co-hosted")).GetProperty("code").GetString()!;
        Assert.Equal(1, await deployment.ScalarAsync(
            "SELECT count(*) FROM orleansmembershiptable WHERE status = 3 AND siloname = 'co-hosted'"));

        var load = new ScanLoad(deployment.Http, [code], workers: 8);
        await load.WaitForRedirectsAsync(300);
        await deployment.Gateway.TerminateAsync();   // SIGTERM with scans in flight
        await load.StopAsync();
        Assert.Equal(0, deployment.Gateway.ExitCode);

        // Every 302 is a row: the co-hosted silo's sink drained before the process exited.
        Assert.True(load.Redirects >= 300, load.Describe());
        Assert.True(load.ByStatus.Keys.All(s => s is HttpStatusCode.Found or 0), load.Describe());
        Assert.Equal(load.Redirects, await deployment.ScanRowsAsync(code));
        Assert.Contains("Scan sink stopped", deployment.Gateway.Output);
    }

    [Fact]
    public async Task The_orleans_dashboard_is_on_the_gateway_port_for_the_admin_key_only_and_runs_in_a_browser_under_its_policy()
    {
        await using var deployment = await StartCoHostedAsync();
        using var http = new HttpClient { BaseAddress = deployment.Gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };

        // Never anonymous, and an owner's API key, valid for the owner's API on this same port, does not open it.
        using (var anonymous = await http.GetAsync("/orleans/"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.StartsWith("Basic", anonymous.Headers.WwwAuthenticate.ToString());
        }

        using (var created = await deployment.Http.PostAsJsonAsync("/api/owners", new { name = "dora" }))
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
        await using var chromium = await HeadlessChromium.LaunchAsync();
        var context = await chromium.Browser.NewContextAsync(new()
        {
            BaseURL = deployment.Gateway.BaseAddress.ToString(),
            HttpCredentials = new() { Username = "admin", Password = Deployment.ApiKey },
        });
        await context.AddInitScriptAsync(HeadlessChromium.CspViolationRecorder);
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        var failed = new List<string>();
        page.PageError += (_, e) => errors.Add(e);
        page.Response += (_, r) =>
        {
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
            await page.GetByText(SiloName, new() { Exact = true }).WaitForAsync(new() { Timeout = 20_000 }); // this process, as a silo
            await page.WaitForTimeoutAsync(2_000); // a few of its periodic refreshes, for violations or errors to show
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

    private const string SiloName = "co-hosted";

    private Task<Deployment> StartCoHostedAsync() =>
        Deployment.StartAsync(postgres, silos: 0, gatewaySettings: new Dictionary<string, string>
        {
            ["Gateway__CoHostSilo"] = "true",
            ["Orleans__SiloPort"] = Shell.FreePort().ToString(CultureInfo.InvariantCulture),
            ["Orleans__GatewayPort"] = Shell.FreePort().ToString(CultureInfo.InvariantCulture),
            ["Orleans__SiloName"] = SiloName,
            ["ScanSink__SpoolDirectory"] = Path.Combine(Path.GetTempPath(), "invexqr-cohost-" + Guid.NewGuid().ToString("N")),
        });
}
