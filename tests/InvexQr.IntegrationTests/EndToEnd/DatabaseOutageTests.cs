using System.Net;
using System.Net.Http.Json;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.EndToEnd;

/// <summary>
/// PostgreSQL stops and comes back while scans run, on a server of this test's own (the shared test
/// server keeps running for the other tests). Active codes keep redirecting from memory; the scans
/// wait in the silo's sink and are written exactly once when the database is back.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class DatabaseOutageTests
{
    [Fact]
    public async Task A_database_restart_under_load_keeps_redirects_working_and_loses_no_scan()
    {
        var postgres = new PostgresServer();
        await postgres.InitializeAsync();
        try
        {
            await using var deployment = await Deployment.StartAsync(postgres);
            var codes = new List<string>();
            for (var i = 0; i < 8; i++)
            {
                var code = (await deployment.Http.CreateCodeAsync($"https://example.org/outage/{i}")).GetProperty("code").GetString()!;
                codes.Add(code);
                (await deployment.Http.GetAsync($"/r/{code}")).Dispose(); // active: its target is in memory
            }

            var warm = codes.Count;
            // A code created behind the service's back (an import, another region): no grain has ever loaded it.
            const string cold = "cold-import";
            await deployment.ScalarAsync(
                "INSERT INTO qr_codes (code, target_url, owner_id) SELECT $1, 'https://example.org/outage/cold', id FROM owners WHERE name = 'admin' RETURNING id", cold);

            var load = new ScanLoad(deployment.Http, codes, workers: 8);
            await load.WaitForRedirectsAsync(300);
            await postgres.StopAsync();
            var atStop = load.Redirects;
            await Task.Delay(TimeSpan.FromSeconds(4));
            var duringOutage = load.Redirects - atStop;

            // A code that is not active needs the database to start: a clear, retryable 503, never a 500.
            using (var coldScan = await deployment.Http.GetAsync($"/r/{cold}"))
            {
                Assert.True(coldScan.StatusCode == HttpStatusCode.ServiceUnavailable, $"{coldScan.StatusCode}\n{deployment.Gateway.Output}");
                Assert.NotNull(coldScan.Headers.RetryAfter);
            }

            // Management calls that need the database answer 503 too.
            using (var list = await deployment.Http.GetAsync("/api/codes"))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, list.StatusCode);
            }

            await postgres.StartAsync();
            Npgsql.NpgsqlConnection.ClearAllPools(); // this test's own pooled connections died with the server
            await load.WaitForRedirectsAsync(load.Redirects + 200);
            await load.StopAsync();
            // And it works once the database is back: at once, or after a 503 while connections are re-established.
            var coldStatuses = new List<HttpStatusCode>();
            var coldDeadline = DateTime.UtcNow.AddSeconds(10);
            do
            {
                using var coldScan = await deployment.Http.GetAsync($"/r/{cold}");
                coldStatuses.Add(coldScan.StatusCode);
                if (coldScan.StatusCode != HttpStatusCode.Found)
                {
                    await Task.Delay(200);
                }
            }
            while (coldStatuses[^1] != HttpStatusCode.Found && DateTime.UtcNow < coldDeadline);

            Assert.Equal(HttpStatusCode.Found, coldStatuses[^1]);
            Assert.True(coldStatuses.All(s => s is HttpStatusCode.Found or HttpStatusCode.ServiceUnavailable),
                $"{string.Join(", ", coldStatuses)}\n{deployment.Gateway.Output}\n{deployment.Silos[0].Output}");

            Assert.True(duringOutage >= 100, $"only {duringOutage} redirects while the database was down; {load.Describe()}");
            Assert.True(load.ByStatus.Keys.All(s => s == HttpStatusCode.Found), load.Describe());

            // Every acknowledged scan is written once the database is back, and none twice.
            var expected = load.Redirects + warm + 1; // + the cold code's one 302
            var deadline = DateTime.UtcNow.AddSeconds(45);
            long rows;
            do
            {
                await Task.Delay(250);
                rows = await deployment.ScalarAsync("SELECT count(*) FROM qr_scans");
            }
            while (rows < expected && DateTime.UtcNow < deadline);

            await Task.Delay(1000);
            Assert.Equal(expected, await deployment.ScalarAsync("SELECT count(*) FROM qr_scans"));
            Assert.Equal(0, await deployment.ScalarAsync("SELECT count(*) - count(DISTINCT id) FROM qr_scans"));

            // The rollups caught up too.
            await Task.Delay(2000);
            var (exit, output) = await deployment.RunSiloCommandAsync("rollups", "reconcile");
            Assert.True(exit == 0, output);
            Console.WriteLine($"Database outage: {duringOutage} redirects in 4 s without PostgreSQL; {expected} scans acknowledged, {expected} stored after the restart");
        }
        finally
        {
            await postgres.DisposeAsync();
        }
    }

    [Fact]
    public async Task When_the_spool_and_the_queue_are_full_during_an_outage_scans_answer_503_and_both_show_in_metrics()
    {
        var postgres = new PostgresServer();
        await postgres.InitializeAsync();
        try
        {
            await using var deployment = await Deployment.StartAsync(postgres, siloSettings: new Dictionary<string, string>
            {
                ["ScanSink__QueueCapacity"] = "50",
                ["ScanSink__BatchSize"] = "10",
                ["ScanSink__FlushIntervalMs"] = "50",
                ["ScanSink__SpoolCapacityBytes"] = "3000", // a couple of frames of 10 scans
            });
            var code = (await deployment.Http.CreateCodeAsync("https://example.org/full")).GetProperty("code").GetString()!;
            (await deployment.Http.GetAsync($"/r/{code}")).Dispose();
            await deployment.WaitForScanRowsAsync(code, 1);

            await postgres.StopAsync();
            var statuses = new List<HttpStatusCode>();
            for (var i = 0; i < 120; i++)
            {
                using var scan = await deployment.Http.GetAsync($"/r/{code}");
                statuses.Add(scan.StatusCode);
            }

            // What fits goes to the spool on disk; then the writer holds one batch (10) it keeps retrying and the
            // queue 50 more: then 503s, nothing dropped silently.
            var accepted = statuses.Count(s => s == HttpStatusCode.Found);
            var metrics = await Prometheus.ScrapeAsync(deployment.Silos[0]);
            var spooled = (long)Prometheus.Sample(metrics, "invexqr_scan_spool_scans");
            Assert.True(spooled >= 10, metrics);
            Assert.True((long)Prometheus.Sample(metrics, "invexqr_scan_spool_bytes") <= 3000, metrics);
            Assert.True((long)Prometheus.Sample(metrics, "invexqr_scan_spool_full_total") >= 10, metrics);
            Assert.InRange(accepted, spooled + 50, spooled + 60);
            // Counted, not ordered: while the spool still had room a slow fsync could fill the queue for a moment,
            // so a 503 may come before the last 302s.
            Assert.Equal(120 - accepted, statuses.Count(s => s == HttpStatusCode.ServiceUnavailable));
            Assert.Equal(120 - accepted, (long)Prometheus.Sample(metrics, "invexqr_scan_sink_refused_total"));

            await postgres.StartAsync();
            Npgsql.NpgsqlConnection.ClearAllPools();
            Assert.Equal(1 + accepted, await deployment.WaitForScanRowsAsync(code, 1 + accepted, TimeSpan.FromSeconds(30)));
        }
        finally
        {
            await postgres.DisposeAsync();
        }
    }

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
            await Task.Delay(TimeSpan.FromSeconds(3));
            var duringOutage = load.Redirects - atStop;
            await load.StopAsync();

            // Committed mode kept acknowledging: each 302 was sent once its scan was fsynced to the spool.
            Assert.True(duringOutage >= 100, $"only {duringOutage} redirects in 3 s without PostgreSQL; {load.Describe()}");
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
            while ((rows = await deployment.ScalarAsync("SELECT count(*) FROM qr_scans")) < expected && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }

            var replayed = restarted.Elapsed;
            await Task.Delay(1000);
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
                $"Committed spool: {duringOutage} redirects in 3 s without PostgreSQL, {spooled} scans spooled; silo killed; " +
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

    [Fact]
    public async Task Signing_out_while_the_database_is_down_is_a_clear_503_and_works_once_it_is_back()
    {
        var postgres = new PostgresServer();
        await postgres.InitializeAsync();
        try
        {
            await using var deployment = await Deployment.StartAsync(postgres);
            var cookies = new CookieContainer();
            using var browser = new HttpClient(new SocketsHttpHandler { CookieContainer = cookies, UseCookies = true })
            {
                BaseAddress = deployment.Gateway.BaseAddress,
            };
            Assert.Equal(HttpStatusCode.NoContent, (await browser.PostAsJsonAsync("/app/session", new { apiKey = Deployment.ApiKey })).StatusCode);
            var copied = cookies.GetAllCookies().Single(c => c.Name == "invexqr_session").Value;
            // Signed in and known to the gateway (its key and session caches hold them for 10 s).
            Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/app/session")).StatusCode);

            await postgres.StopAsync();
            HttpStatusCode status;
            using (var failed = await browser.SendAsync(SignOut()))
            {
                status = failed.StatusCode;
                Assert.True(status == HttpStatusCode.ServiceUnavailable, $"{status}: {await failed.Content.ReadAsStringAsync()}");
                Assert.Equal("application/problem+json", failed.Content.Headers.ContentType?.MediaType);
            }

            // Not signed out anywhere, so the browser keeps its cookie and can sign out again.
            Assert.Single(cookies.GetAllCookies(), c => c.Name == "invexqr_session");

            await postgres.StartAsync();
            Npgsql.NpgsqlConnection.ClearAllPools();
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (status != HttpStatusCode.NoContent && DateTime.UtcNow < deadline && await Polling.Pause(500))
            {
                using var retried = await browser.SendAsync(SignOut());
                status = retried.StatusCode;
            }

            Assert.Equal(HttpStatusCode.NoContent, status);
            Assert.Equal(1, await deployment.ScalarAsync("SELECT count(*) FROM dashboard_sign_outs"));
            using var plain = new HttpClient { BaseAddress = deployment.Gateway.BaseAddress };
            using var replay = new HttpRequestMessage(HttpMethod.Get, "/api/codes");
            replay.Headers.Add("Cookie", $"invexqr_session={copied}");
            Assert.Equal(HttpStatusCode.Unauthorized, (await plain.SendAsync(replay)).StatusCode);
        }
        finally
        {
            await postgres.DisposeAsync();
        }
    }

    private static HttpRequestMessage SignOut()
    {
        var request = new HttpRequestMessage(HttpMethod.Delete, "/app/session");
        request.Headers.Add("X-InvexQR-CSRF", "1");
        return request;
    }
}
