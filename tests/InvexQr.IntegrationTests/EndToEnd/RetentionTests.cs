using System.Net.Http.Json;
using System.Text.Json;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.EndToEnd;

/// <summary>Retention of raw scans: whole monthly partitions dropped by the command and by the silos' schedule; rollups stay.</summary>
[Collection(PostgresCollection.Name)]
public sealed class RetentionTests(PostgresServer postgres)
{
    [Fact]
    public async Task Old_raw_scans_are_dropped_by_whole_partitions_while_their_stats_remain()
    {
        await using var deployment = await Deployment.StartAsync(postgres);
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

        // The operator command: the month of 200 days ago is entirely older than 150 days.
        var (exit, output) = await deployment.RunSiloCommandAsync("retention", "--days", "150");
        Assert.True(exit == 0, output);
        Assert.Contains($"qr_scans_{now.AddDays(-200):yyyy_MM}", output);
        Assert.Equal(6, await deployment.ScanRowsAsync(code));
        Assert.Equal(0, await deployment.ScalarAsync("SELECT count(*) FROM pg_tables WHERE tablename = $1", $"qr_scans_{now.AddDays(-200):yyyy_MM}"));

        // The scheduled job: a silo configured with 60 days applies it when it starts (and every 6 hours).
        await deployment.StartSiloAsync(new Dictionary<string, string> { ["Privacy__RetentionDays"] = "60" });
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (await deployment.ScanRowsAsync(code) > 4 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        Assert.Equal(4, await deployment.ScanRowsAsync(code));

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

        var (bad, badOutput) = await deployment.RunSiloCommandAsync("retention", "--days", "soon");
        Assert.True(bad == 2, badOutput);
    }
}
