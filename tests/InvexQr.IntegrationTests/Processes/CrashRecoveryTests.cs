using System.Net;
using System.Net.Http.Json;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Processes;

/// <summary>
/// A silo process killed while PostgreSQL is down, on a server of this test's own: what it acknowledged in
/// <c>Committed</c> mode is on its disk, and a silo started on the same spool writes it exactly once.
/// </summary>
[Collection(ProcessesCollection.Name)]
public sealed class CrashRecoveryTests
{
    [Fact]
    public async Task Committed_scans_go_to_the_local_spool_during_an_outage_survive_a_silo_crash_and_are_stored_exactly_once()
    {
        var postgres = new PostgresServer();
        await postgres.InitializeAsync();
        var spool = Path.Combine(Path.GetTempPath(), "invexqr-spool-" + Guid.NewGuid().ToString("N"));
        try
        {
            var settings = new Dictionary<string, string>
            {
                ["ScanSink__Durability"] = "Committed",
                ["ScanSink__SpoolDirectory"] = spool,
                // Restarted where it ran, as a supervisor restarts a crashed silo: the new generation at the same
                // address supersedes the dead one at once (a silo elsewhere would first wait for it to be voted dead).
                ["Orleans__SiloPort"] = Shell.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Orleans__GatewayPort"] = Shell.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
            await using var deployment = await Deployment.StartAsync(postgres, siloSettings: settings);
            var codes = new List<string>();
            for (var i = 0; i < 4; i++)
            {
                var code = (await deployment.Http.CreateCodeAsync($"https://example.org/spool/{i}")).GetProperty("code").GetString()!;
                codes.Add(code);
                (await deployment.Http.GetAsync($"/r/{code}")).Dispose();
            }

            var load = new ScanLoad(deployment.Http, codes, workers: 8);
            await load.WaitForRedirectsAsync(200);
            await postgres.StopAsync();
            var atStop = load.Redirects;
            await load.WaitForRedirectsAsync(atStop + 150); // acknowledged while PostgreSQL is down: spooled
            var duringOutage = load.Redirects - atStop;
            await load.StopAsync();

            // Committed mode kept acknowledging: each 302 was sent once its scan was fsynced to the spool.
            Assert.True(duringOutage >= 150, $"only {duringOutage} redirects without PostgreSQL; {load.Describe()}");
            Assert.True(load.ByStatus.Keys.All(s => s == HttpStatusCode.Found), load.Describe());
            var metrics = await Prometheus.ScrapeAsync(deployment.Silos[0]);
            var spooled = (long)Prometheus.Sample(metrics, "invexqr_scan_spool_scans");
            Assert.True(spooled >= duringOutage, $"{spooled} spooled for {duringOutage} redirects\n{metrics}");

            // The silo dies with PostgreSQL still down: its spool on disk is all that holds those scans.
            await deployment.Silos[0].KillAsync();
            Assert.NotEmpty(Directory.GetFiles(spool, "*.spool"));
            await postgres.StartAsync();
            Npgsql.NpgsqlConnection.ClearAllPools();

            // A silo started on the same spool directory replays it.
            var restarted = System.Diagnostics.Stopwatch.StartNew();
            await deployment.StartSiloAsync(settings);
            var expected = load.Redirects + codes.Count;
            var deadline = DateTime.UtcNow.AddSeconds(60);
            long rows;
            while ((rows = await deployment.ScalarAsync("SELECT count(*) FROM qr_scans")) < expected && DateTime.UtcNow < deadline
                   && await Polling.Pause(100))
            {
            }

            var replayed = restarted.Elapsed;
            // Replayed: the spool is empty, so nothing more can come; count again.
            while (Directory.GetFiles(spool, "*.spool").Length > 0 && DateTime.UtcNow < deadline && await Polling.Pause(100))
            {
            }

            Assert.Equal(expected, await deployment.ScalarAsync("SELECT count(*) FROM qr_scans"));
            Assert.Equal(0, await deployment.ScalarAsync("SELECT count(*) - count(DISTINCT id) FROM qr_scans"));
            Assert.Empty(Directory.GetFiles(spool, "*.spool"));

            // The rollups of the crashed silo's last seconds died with it (they are counted in memory); the raw
            // scans did not, and rebuilding the day's rollups from them makes the two agree again.
            var (rebuilt, rebuildOutput) = await deployment.RebuildTodayAsync();
            Assert.True(rebuilt == 0, rebuildOutput);
            var (exit, output) = await deployment.ReconcileTodayAsync(attempts: 1);
            Assert.True(exit == 0, output);
            Console.WriteLine(
                $"Committed spool: {duringOutage} redirects without PostgreSQL, {spooled} scans spooled; silo killed; " +
                $"{expected} acknowledged, {expected} stored {replayed.TotalSeconds:F1} s after a new silo was started on the spool");
        }
        finally
        {
            await postgres.DisposeAsync();
            if (Directory.Exists(spool))
            {
                Directory.Delete(spool, recursive: true);
            }
        }
    }
}
