using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using InvexQr.IntegrationTests.Infrastructure;
using Npgsql;

namespace InvexQr.IntegrationTests.Http;

/// <summary>
/// Retention of raw scans: whole monthly partitions dropped by the command and by the silos' schedule; rollups stay.
/// Each test has a host (and database) of its own: retention and its horizon are database-wide.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class RetentionTests(PostgresServer postgres)
{
    [Fact]
    public async Task Old_raw_scans_are_dropped_by_whole_partitions_while_their_stats_remain()
    {
        await using var deployment = await GatewayHost.StartAsync(postgres);
        var code = (await deployment.Http.CreateCodeAsync("https://example.org/retention")).GetProperty("code").GetString()!;
        var id = await deployment.ScalarAsync("SELECT id FROM qr_codes WHERE code = $1", code);
        var now = DateTimeOffset.UtcNow;
        foreach (var (daysAgo, count) in new[] { (200, 3), (120, 2), (3, 4) })
        {
            var at = now.AddDays(-daysAgo);
            await deployment.ScalarAsync("SELECT 1 FROM (SELECT invexqr_ensure_scan_partition($1)) p", at);
            await deployment.ScalarAsync("""
                INSERT INTO qr_scans (id, qr_code_id, scanned_at, country_code, device_type, is_bot)
                SELECT gen_random_uuid(), $1, $2, 'GB', 'mobile', false FROM generate_series(1, $3) RETURNING 1
                """, id, at, count);
        }

        var (rebuilt, rebuildOutput) = await deployment.RunSiloCommandAsync("rollups", "rebuild", "--code", code);
        Assert.True(rebuilt == 0, rebuildOutput);

        // The operator command, through the real InvexQr.Silo binary (that `retention` is taken as a command, not a silo
        // start, and that the silo's own services do it): the month of 200 days ago is entirely older than 150 days.
        var (exit, output) = await RunSiloBinaryAsync(deployment, "retention", "--days", "150");
        Assert.True(exit == 0, output);
        Assert.Contains($"qr_scans_{now.AddDays(-200):yyyy_MM}", output);
        Assert.Equal(6, await deployment.ScanRowsAsync(code));
        Assert.Equal(0, await deployment.ScalarAsync("SELECT count(*) FROM pg_tables WHERE tablename = $1", $"qr_scans_{now.AddDays(-200):yyyy_MM}"));

        // The scheduled job: a silo configured with 60 days applies it when it starts (and every 6 hours), after
        // creating the partitions of the next three months (the furthest is dropped here to see it come back).
        // Here that silo is a second gateway with its co-hosted silo, joining the same cluster and database.
        var ahead = $"qr_scans_{now.AddMonths(3):yyyy_MM}";
        await deployment.ScalarAsync($"DROP TABLE {ahead}");
        await using var scheduled = await GatewayHost.StartAsync(
            postgres, new Dictionary<string, string?> { ["Privacy:RetentionDays"] = "60" }, joining: deployment);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (await deployment.ScanRowsAsync(code) > 4 && DateTime.UtcNow < deadline && await Polling.Pause(50))
        {
        }

        Assert.Equal(4, await deployment.ScanRowsAsync(code));
        Assert.Equal(1, await deployment.ScalarAsync("SELECT count(*) FROM pg_tables WHERE tablename = $1", ahead));

        // The rollups keep every scan: the stats of 200 days ago still count them.
        Assert.Equal(9, await deployment.ScalarAsync("SELECT sum(scans) FROM qr_rollup_hourly WHERE qr_code_id = $1", id));
        var day = now.AddDays(-200).UtcDateTime.ToString("yyyy-MM-dd");
        var stats = await deployment.Http.GetFromJsonAsync<JsonElement>($"/api/codes/{code}/stats?from={day}&to={day}");
        Assert.Equal(3, stats.GetProperty("totals").GetProperty("scans").GetInt64());

        // Rebuilding the rollups from raw scans leaves the days whose raw scans retention dropped alone: rebuilt from
        // nothing, their stats would be erased. The days after that point are rebuilt as usual.
        // (the end of the last month dropped: the month of 120 days ago, entirely older than 60 days)
        Assert.Equal(1, await deployment.ScalarAsync(
            "SELECT count(*) FROM scan_retention_horizon WHERE raw_scans_from > now() - interval '120 days' AND raw_scans_from <= now() - interval '60 days'"));
        var (again, againOutput) = await deployment.RunSiloCommandAsync("rollups", "rebuild", "--code", code);
        Assert.True(again == 0, againOutput);
        Assert.Contains("dropped by retention", againOutput);
        Assert.Equal(9, await deployment.ScalarAsync("SELECT sum(scans) FROM qr_rollup_hourly WHERE qr_code_id = $1", id));
        var (reconciled, reconcileOutput) = await deployment.RunSiloCommandAsync("rollups", "reconcile", "--code", code);
        Assert.True(reconciled == 0, reconcileOutput);
        var (nothing, nothingOutput) = await deployment.RunSiloCommandAsync(
            "rollups", "rebuild", "--code", code, "--to", now.AddDays(-120).UtcDateTime.ToString("yyyy-MM-dd"));
        Assert.True(nothing == 0, nothingOutput);
        Assert.Contains("nothing to do", nothingOutput);
        Assert.Equal(9, await deployment.ScalarAsync("SELECT sum(scans) FROM qr_rollup_hourly WHERE qr_code_id = $1", id));

        // Bad arguments: the binary's exit code and message reach the operator.
        var (bad, badOutput) = await RunSiloBinaryAsync(deployment, "retention", "--days", "soon");
        Assert.True(bad == 2, badOutput);
        Assert.Contains("InvexQr.Silo retention: --days must be a whole number", badOutput);
    }

    [Fact]
    public async Task Retention_gives_up_on_a_busy_table_instead_of_holding_the_scan_writers_behind_it()
    {
        await using var deployment = await GatewayHost.StartAsync(postgres);
        var code = (await deployment.Http.CreateCodeAsync("https://example.org/busy")).GetProperty("code").GetString()!;
        var id = await deployment.ScalarAsync("SELECT id FROM qr_codes WHERE code = $1", code);
        var old = DateTimeOffset.UtcNow.AddDays(-200);
        await deployment.ScalarAsync("SELECT 1 FROM (SELECT invexqr_ensure_scan_partition($1)) p", old);
        await deployment.ScalarAsync("INSERT INTO qr_scans (id, qr_code_id, scanned_at, is_bot) VALUES (gen_random_uuid(), $1, $2, false) RETURNING 1", id, old);

        // A long reader of qr_scans (as a CSV export of a year, or a rebuild): its transaction is still open.
        await using var reader = new NpgsqlConnection(deployment.ConnectionString);
        await reader.OpenAsync();
        await using var reading = await reader.BeginTransactionAsync();
        await using (var read = new NpgsqlCommand("SELECT count(*) FROM qr_scans", reader, reading))
        {
            await read.ExecuteScalarAsync();
        }

        var retention = deployment.RunSiloCommandAsync("retention", "--days", "150");
        await using var probe = new NpgsqlConnection(deployment.ConnectionString);
        await probe.OpenAsync();
        var waiting = false;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!waiting && !retention.IsCompleted && DateTime.UtcNow < deadline && await Polling.Pause(20))
        {
            await using var locks = new NpgsqlCommand(
                "SELECT count(*) FROM pg_locks WHERE relation = 'qr_scans'::regclass AND mode = 'AccessExclusiveLock' AND NOT granted", probe);
            waiting = (long)(await locks.ExecuteScalarAsync())! > 0;
        }

        Assert.True(waiting, "the retention's drop never waited for qr_scans");

        // A scan written now queues behind the waiting drop: for at most its lock timeout, not until the reader ends.
        var started = Stopwatch.StartNew();
        await using (var write = new NpgsqlCommand(
            "INSERT INTO qr_scans (id, qr_code_id, scanned_at, is_bot) VALUES (gen_random_uuid(), $1, now(), false)", probe) { CommandTimeout = 20 })
        {
            write.Parameters.Add(new() { Value = id });
            await write.ExecuteNonQueryAsync();
        }

        Assert.InRange(started.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(6));
        var (exit, output) = await retention;
        Assert.True(exit == 4, output);
        Assert.Contains("in use", output);
        Assert.Equal(2, await deployment.ScanRowsAsync(code));

        // Once the reader is done, the next attempt drops it.
        await reading.RollbackAsync();
        var (again, againOutput) = await deployment.RunSiloCommandAsync("retention", "--days", "150");
        Assert.True(again == 0, againOutput);
        Assert.Contains($"qr_scans_{old:yyyy_MM}", againOutput);
        Assert.Equal(1, await deployment.ScanRowsAsync(code));
    }

    /// <summary>Runs an operator command with the real silo binary against the host's database.</summary>
    private static Task<(int ExitCode, string Output)> RunSiloBinaryAsync(GatewayHost host, params string[] args) =>
        ServiceProcess.RunToExitAsync("Silo", new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = host.ConnectionString,
            ["Orleans__ClusterId"] = host.ClusterId,
            ["Orleans__ServiceId"] = "invexqr-tests",
            ["Orleans__SiloPort"] = Shell.FreePort().ToString(),
            ["Orleans__GatewayPort"] = Shell.FreePort().ToString(),
            ["Auth__ApiKey"] = GatewayHost.ApiKey,
        }, args);
}
