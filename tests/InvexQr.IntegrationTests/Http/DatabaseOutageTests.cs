using System.Net;
using System.Net.Http.Json;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Http;

/// <summary>
/// PostgreSQL stops and comes back while scans run, on a server of this class's own (the shared test server keeps
/// running for the other tests). Active codes keep redirecting from memory; the scans wait in the silo's sink and are
/// written exactly once when the database is back. A silo killed during an outage is in Processes/CrashRecoveryTests.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class DatabaseOutageTests(DatabaseOutageTests.PrivatePostgres server) : IClassFixture<DatabaseOutageTests.PrivatePostgres>, IAsyncLifetime
{
    private PostgresServer Postgres => server.Server;

    public Task InitializeAsync() => Task.CompletedTask;

    // Running again before the hosts of a failed test stop (they are disposed after this), and for the next test.
    public Task DisposeAsync() => Postgres.EnsureStartedAsync();

    [Fact]
    public async Task A_database_restart_under_load_keeps_redirects_working_and_loses_no_scan()
    {
        await using var host = await GatewayHost.StartAsync(Postgres);
        // A second gateway of the deployment that has never seen the codes: it must not need the database to find them.
        await using var second = await GatewayHost.StartAsync(Postgres, joining: host);
        await using var running = Postgres.RunningAgainOnExit();
        var codes = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            var code = (await host.Http.CreateCodeAsync($"https://example.org/outage/{i}")).GetProperty("code").GetString()!;
            codes.Add(code);
            (await host.Http.GetAsync($"/r/{code}")).Dispose(); // active: its target is in memory
        }

        var warm = codes.Count;
        // A code created behind the service's back (an import, another region): no grain has ever loaded it.
        const string cold = "cold-import";
        await host.ScalarAsync(
            "INSERT INTO qr_codes (code, target_url, owner_id) SELECT $1, 'https://example.org/outage/cold', id FROM owners WHERE name = 'admin' RETURNING id", cold);

        var load = new ScanLoad(host.Http, codes, workers: 8);
        await load.WaitForRedirectsAsync(300);
        await Postgres.StopAsync();
        var atStop = load.Redirects;
        await load.WaitForRedirectsAsync(atStop + 300);
        var duringOutage = load.Redirects - atStop;

        // An active code through a gateway that never looked it up: answered from the grain's memory.
        using (var unseen = await second.Http.GetAsync($"/r/{codes[0]}"))
        {
            Assert.True(unseen.StatusCode == HttpStatusCode.Found, $"{unseen.StatusCode}: {await unseen.Content.ReadAsStringAsync()}");
        }

        // A code that is not active needs the database to start: a clear, retryable 503, never a 500.
        using (var coldScan = await host.Http.GetAsync($"/r/{cold}"))
        {
            Assert.True(coldScan.StatusCode == HttpStatusCode.ServiceUnavailable, $"{coldScan.StatusCode}\n{host.Logs}");
            Assert.NotNull(coldScan.Headers.RetryAfter);
        }

        // Management calls that need the database answer 503 too.
        using (var list = await host.Http.GetAsync("/api/codes"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, list.StatusCode);
        }

        await Postgres.StartAsync();
        Npgsql.NpgsqlConnection.ClearAllPools(); // pooled connections died with the server
        await load.WaitForRedirectsAsync(load.Redirects + 200);
        await load.StopAsync();
        // And it works once the database is back: at once, or after a 503 while connections are re-established.
        var coldStatuses = new List<HttpStatusCode>();
        var coldDeadline = DateTime.UtcNow.AddSeconds(10);
        do
        {
            using var coldScan = await host.Http.GetAsync($"/r/{cold}");
            coldStatuses.Add(coldScan.StatusCode);
        }
        while (coldStatuses[^1] != HttpStatusCode.Found && DateTime.UtcNow < coldDeadline && await Polling.Pause());

        Assert.Equal(HttpStatusCode.Found, coldStatuses[^1]);
        Assert.True(coldStatuses.All(s => s is HttpStatusCode.Found or HttpStatusCode.ServiceUnavailable),
            $"{string.Join(", ", coldStatuses)}\n{host.Logs}");
        Assert.True(load.ByStatus.Keys.All(s => s == HttpStatusCode.Found), load.Describe());

        // Every acknowledged scan is written once the database is back, and none twice; the rollups caught up too.
        var expected = load.Redirects + warm + 1 + 1; // + the unseen gateway's scan and the cold code's 302
        await host.FlushAsync(TimeSpan.FromSeconds(45));
        await second.FlushAsync(TimeSpan.FromSeconds(45));
        Assert.Equal(expected, await host.ScalarAsync("SELECT count(*) FROM qr_scans"));
        Assert.Equal(0, await host.ScalarAsync("SELECT count(*) - count(DISTINCT id) FROM qr_scans"));
        var (exit, output) = await host.RunSiloCommandAsync("rollups", "reconcile", "--from", Today(0), "--to", Today(1));
        Assert.True(exit == 0, output);
        Console.WriteLine($"Database outage: {duringOutage} redirects without PostgreSQL; {expected} scans acknowledged, {expected} stored after the restart");
    }

    [Fact]
    public async Task When_the_spool_and_the_queue_are_full_during_an_outage_scans_answer_503_and_both_show_in_metrics()
    {
        await using var host = await GatewayHost.StartAsync(Postgres, new Dictionary<string, string?>
        {
            ["ScanSink:QueueCapacity"] = "50",
            ["ScanSink:BatchSize"] = "10",
            ["ScanSink:FlushIntervalMs"] = "50",
            ["ScanSink:SpoolCapacityBytes"] = "3000", // a couple of frames of 10 scans
        });
        await using var running = Postgres.RunningAgainOnExit();
        var code = (await host.Http.CreateCodeAsync("https://example.org/full")).GetProperty("code").GetString()!;
        (await host.Http.GetAsync($"/r/{code}")).Dispose();
        Assert.Equal(1, await host.WaitForScanRowsAsync(code));
        var before = await host.Http.GetStringAsync("/metrics");

        await Postgres.StopAsync();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 120; i++)
        {
            using var scan = await host.Http.GetAsync($"/r/{code}");
            statuses.Add(scan.StatusCode);
        }

        // What fits goes to the spool on disk; then the writer holds one batch (10) it keeps retrying and the
        // queue 50 more: then 503s, nothing dropped silently.
        var accepted = statuses.Count(s => s == HttpStatusCode.Found);
        // The sink settles: it spools batches while the spool has room, then holds one batch it cannot place and the
        // queue behind it. Scrape until it has (the exporter also serves a scrape cached for a moment).
        string metrics = before, previous;
        double Delta(string metric) => Prometheus.Sample(metrics, metric) - Prometheus.Sample(before, metric);
        var settledBy = DateTime.UtcNow.AddSeconds(20);
        do
        {
            previous = metrics;
            await Polling.Pause(400);
            metrics = await host.Http.GetStringAsync("/metrics");
        }
        while ((Delta("invexqr_scan_sink_refused_total") < 120 - accepted || Delta("invexqr_scan_spool_full_total") < 10
                || Prometheus.Sample(metrics, "invexqr_scan_spool_scans") != Prometheus.Sample(previous, "invexqr_scan_spool_scans"))
               && DateTime.UtcNow < settledBy);

        // Nothing dropped silently: every 302 is on disk or held in memory, within the bounds; the rest got 503s.
        var spooled = (long)Prometheus.Sample(metrics, "invexqr_scan_spool_scans");
        var held = (long)Prometheus.Sample(metrics, "invexqr_scan_sink_queue_depth");
        Assert.True(spooled >= 10, metrics);
        Assert.True((long)Prometheus.Sample(metrics, "invexqr_scan_spool_bytes") <= 3000, metrics);
        Assert.True((long)Delta("invexqr_scan_spool_full_total") >= 10, metrics);
        Assert.Equal(accepted, spooled + held);
        Assert.InRange(held, 10, 60); // the queue (at most 50), and the one batch the writer holds
        Assert.True(accepted < 120, "nothing was refused");
        Assert.Equal(120 - accepted, statuses.Count(s => s == HttpStatusCode.ServiceUnavailable));
        Assert.Equal(120 - accepted, (long)Delta("invexqr_scan_sink_refused_total"));

        await Postgres.StartAsync();
        Npgsql.NpgsqlConnection.ClearAllPools();
        // The spool replays too (not only the queue): wait until it is empty, then count.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Prometheus.Sample(await host.Http.GetStringAsync("/metrics"), "invexqr_scan_spool_scans") > 0
               && DateTime.UtcNow < deadline && await Polling.Pause())
        {
        }

        await host.FlushAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1 + accepted, await host.ScanRowsAsync(code));
    }

    [Fact]
    public async Task Signing_out_while_the_database_is_down_is_a_clear_503_and_works_once_it_is_back()
    {
        await using var host = await GatewayHost.StartAsync(Postgres);
        await using var running = Postgres.RunningAgainOnExit();
        var cookies = new CookieContainer();
        using var browser = new HttpClient(new SocketsHttpHandler { CookieContainer = cookies, UseCookies = true })
        {
            BaseAddress = host.BaseAddress,
        };
        Assert.Equal(HttpStatusCode.NoContent, (await browser.PostAsJsonAsync("/app/session", new { apiKey = GatewayHost.ApiKey })).StatusCode);
        var copied = cookies.GetAllCookies().Single(c => c.Name == "invexqr_session").Value;
        // Signed in and known to the gateway (its key and session caches hold them for 10 s).
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/app/session")).StatusCode);

        await Postgres.StopAsync();
        HttpStatusCode status;
        using (var failed = await browser.SendAsync(SignOut()))
        {
            status = failed.StatusCode;
            Assert.True(status == HttpStatusCode.ServiceUnavailable, $"{status}: {await failed.Content.ReadAsStringAsync()}");
            Assert.Equal("application/problem+json", failed.Content.Headers.ContentType?.MediaType);
        }

        // Not signed out anywhere, so the browser keeps its cookie and can sign out again.
        Assert.Single(cookies.GetAllCookies(), c => c.Name == "invexqr_session");

        await Postgres.StartAsync();
        Npgsql.NpgsqlConnection.ClearAllPools();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (status != HttpStatusCode.NoContent && DateTime.UtcNow < deadline && await Polling.Pause(500))
        {
            using var retried = await browser.SendAsync(SignOut());
            status = retried.StatusCode;
        }

        Assert.Equal(HttpStatusCode.NoContent, status);
        Assert.Equal(1, await host.ScalarAsync("SELECT count(*) FROM dashboard_sign_outs"));
        using var plain = host.CreateClient();
        using var replay = new HttpRequestMessage(HttpMethod.Get, "/api/codes");
        replay.Headers.Add("Cookie", $"invexqr_session={copied}");
        Assert.Equal(HttpStatusCode.Unauthorized, (await plain.SendAsync(replay)).StatusCode);
    }

    private static HttpRequestMessage SignOut()
    {
        var request = new HttpRequestMessage(HttpMethod.Delete, "/app/session");
        request.Headers.Add("X-InvexQR-CSRF", "1");
        return request;
    }

    private static string Today(int plusDays) =>
        DateTime.UtcNow.Date.AddDays(plusDays).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A PostgreSQL server of this class's own, which its tests stop and start.</summary>
    public sealed class PrivatePostgres : IAsyncLifetime
    {
        public PostgresServer Server { get; } = new();

        public Task InitializeAsync() => Server.InitializeAsync();

        public Task DisposeAsync() => Server.DisposeAsync();
    }
}
