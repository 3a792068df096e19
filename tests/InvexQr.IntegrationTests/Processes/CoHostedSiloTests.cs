using System.Globalization;
using System.Net;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Processes;

/// <summary>
/// <c>Gateway:CoHostSilo=true</c>: one process is the gateway and the only silo. Everything a
/// deployment with separate silos does works: migrations, the API, scans recorded and counted, and a
/// graceful stop that drains the scan sink.
/// </summary>
[Collection(ProcessesCollection.Name)]
public sealed class CoHostedSiloTests(PostgresServer postgres)
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
