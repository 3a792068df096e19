using System.Globalization;
using InvexQr.Grains.Analytics;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Http;

/// <summary>
/// Streaming counters → rollups → stats API, through a gateway with its silo in process: rollups equal raw scans
/// after a burst, a scan shows in stats within seconds, time zones shift day buckets, CSV streams the rows.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class AnalyticsTests(PostgresServer postgres, SharedGatewayHost shared) : IClassFixture<SharedGatewayHost>, IAsyncLifetime
{
    public const string IPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
    public const string Desktop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
    public const string Bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

    // GeoLite2 test-friendly addresses: GB (East Finchley), US (Google DNS), and SE / DE ranges.
    public static readonly string[] Addresses = ["81.2.69.142", "8.8.8.8", "89.160.20.112", "2001:4860:4860::8888"];

    private GatewayHost _deployment = null!;

    // Loopback is trusted as a proxy, so the tests can scan "from" the addresses above with X-Forwarded-For.
    public async Task InitializeAsync() => _deployment = await shared.GetAsync(postgres, new Dictionary<string, string?>
    {
        ["Network:TrustedProxies:0"] = "127.0.0.1",
    });

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task After_a_burst_the_rollups_equal_the_raw_scans_exactly()
    {
        var code = (await _deployment.Http.CreateCodeAsync("https://example.org/burst")).GetProperty("code").GetString()!;
        var agents = new[] { IPhone, Desktop, Bot };
        await Parallel.ForEachAsync(Enumerable.Range(0, 600), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, _) =>
        {
            using var response = await _deployment.Http.ScanFromAsync(code, Addresses[i % Addresses.Length], agents[i % agents.Length]);
            Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        });

        Assert.Equal(600, await _deployment.WaitForScanRowsAsync(code));
        var stats = await WaitForStatsAsync(code, s => s.GetProperty("totals").GetProperty("scans").GetInt64() == 600);
        var totals = stats.GetProperty("totals");
        Assert.Equal(400, totals.GetProperty("humans").GetInt64());
        Assert.Equal(200, totals.GetProperty("bots").GetInt64());
        // 4 addresses × 2 human agents = 8 visitors; the unique count is the sketch's estimate of their hashes (in about one run of
        // 70, two of the 8 fresh hashes share one of its 2,048 registers and it says 7).
        var visitors = await VisitorHashesAsync(code);
        Assert.Equal(8, visitors.Count);
        Assert.Equal(HyperLogLog.FromRegisters(visitors.Select(v => HyperLogLog.Locate(v))).Estimate(), totals.GetProperty("unique").GetInt64());
        // Repeats are by address: the first human scan from each of the 4 addresses is not one.
        Assert.Equal(396, totals.GetProperty("repeats").GetInt64());
        Assert.Equal(200, Sum(stats, "devices", "bot"));
        Assert.Equal(200, Sum(stats, "devices", "mobile"));
        Assert.Equal(150, stats.GetProperty("countries").EnumerateArray().Single(c => c.GetProperty("country").GetString() == "GB").GetProperty("scans").GetInt64());
        Assert.Contains(stats.GetProperty("cities").EnumerateArray(), c => c.GetProperty("city").GetString() == "East Finchley" && c.GetProperty("latitude").ValueKind == JsonValueKind.Number);

        var (exit, output) = await _deployment.RunSiloCommandAsync("rollups", "reconcile", "--code", code, "--to", Tomorrow());
        Assert.True(exit == 0, output);
        Assert.Contains("rollups equal raw scans", output);

        // A damaged rollup is found, and rebuilt from raw scans; so is a lost unique-visitor sketch (as after a crash
        // before its turn to be written), from the visitor hashes of the raw scans.
        var sketch = await _deployment.ScalarAsync("SELECT hashtextextended(string_agg(register || ':' || rank, ',' ORDER BY register), 0) FROM qr_rollup_visitor_registers WHERE qr_code_id = (SELECT id FROM qr_codes WHERE code = $1)", code);
        await _deployment.ScalarAsync("UPDATE qr_rollup_hourly SET scans = scans + 5 WHERE qr_code_id = (SELECT id FROM qr_codes WHERE code = $1) RETURNING 1", code);
        await _deployment.ScalarAsync("WITH gone AS (DELETE FROM qr_rollup_visitor_registers WHERE qr_code_id = (SELECT id FROM qr_codes WHERE code = $1) RETURNING 1) SELECT count(*) FROM gone", code);
        Assert.Equal(0, (await StatsAsync(code)).GetProperty("totals").GetProperty("unique").GetInt64());
        var (found, foundOutput) = await _deployment.RunSiloCommandAsync("rollups", "reconcile", "--code", code, "--to", Tomorrow());
        Assert.True(found == 3, foundOutput);
        Assert.Contains("hour ", foundOutput);
        Assert.Contains($"rollup ~0 raw ~{HyperLogLog.FromRegisters(visitors.Select(v => HyperLogLog.Locate(v))).Estimate()} (sketches differ)", foundOutput);
        var (rebuilt, rebuildOutput) = await _deployment.RunSiloCommandAsync("rollups", "rebuild", "--code", code, "--to", Tomorrow());
        Assert.True(rebuilt == 0, rebuildOutput);
        Assert.Contains("1 unique-visitor sketches", rebuildOutput);
        Assert.Equal(0, (await _deployment.RunSiloCommandAsync("rollups", "reconcile", "--code", code, "--to", Tomorrow())).ExitCode);
        Assert.Equal(HyperLogLog.FromRegisters(visitors.Select(v => HyperLogLog.Locate(v))).Estimate(),
            (await StatsAsync(code)).GetProperty("totals").GetProperty("unique").GetInt64());
        // The very registers the sink had written: the same hashes make the same registers.
        Assert.Equal(sketch, await _deployment.ScalarAsync("SELECT hashtextextended(string_agg(register || ':' || rank, ',' ORDER BY register), 0) FROM qr_rollup_visitor_registers WHERE qr_code_id = (SELECT id FROM qr_codes WHERE code = $1)", code));
    }

    [Fact]
    public async Task A_scan_is_in_the_stats_within_five_seconds()
    {
        // The promise is about a running service: first the write and read paths warm up (a fresh silo's first
        // rollup flush opens connections and compiles), untimed, on another code.
        var warm = (await _deployment.Http.CreateCodeAsync("https://example.org/warm")).GetProperty("code").GetString()!;
        (await _deployment.Http.ScanFromAsync(warm, "81.2.69.142", IPhone)).Dispose();
        await WaitForStatsAsync(warm, s => s.GetProperty("totals").GetProperty("scans").GetInt64() == 1, TimeSpan.FromSeconds(30));

        var code = (await _deployment.Http.CreateCodeAsync("https://example.org/fresh")).GetProperty("code").GetString()!;
        using (var scan = await _deployment.Http.ScanFromAsync(code, "81.2.69.142", IPhone))
        {
            Assert.Equal(HttpStatusCode.Found, scan.StatusCode);
        }

        var clock = Stopwatch.StartNew();
        await WaitForStatsAsync(code, s => s.GetProperty("totals").GetProperty("scans").GetInt64() == 1, TimeSpan.FromSeconds(5));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"visible after {clock.Elapsed}");
    }

    [Fact]
    public async Task A_scan_at_23_30_UTC_lands_on_the_next_day_in_Paris()
    {
        var code = (await _deployment.Http.CreateCodeAsync("https://example.org/tz")).GetProperty("code").GetString()!;
        var day = DateTime.UtcNow.Date.AddDays(-10);
        var lateEvening = new DateTimeOffset(day.AddHours(23).AddMinutes(30), TimeSpan.Zero);
        await _deployment.ScalarAsync("""
            INSERT INTO qr_scans (id, qr_code_id, scanned_at, country_code, device_type, os, browser)
            SELECT gen_random_uuid(), id, $2, 'FR', 'mobile', 'iOS', 'Mobile Safari' FROM qr_codes WHERE code = $1
            RETURNING 1
            """, code, lateEvening);
        var (exit, output) = await _deployment.RunSiloCommandAsync("rollups", "rebuild", "--code", code);
        Assert.True(exit == 0, output);

        var range = $"from={day.AddDays(-1):yyyy-MM-dd}&to={day.AddDays(2):yyyy-MM-dd}";
        var utc = await StatsAsync(code, $"?{range}&tz=UTC");
        var paris = await StatsAsync(code, $"?{range}&tz=Europe/Paris");

        Assert.Equal($"{day:yyyy-MM-dd}T00:00:00+00:00", BusyBucket(utc));
        Assert.StartsWith($"{day.AddDays(1):yyyy-MM-dd}T00:00:00+01:00"[..19], BusyBucket(paris));
        Assert.Equal(4, paris.GetProperty("series").GetArrayLength()); // empty days are there too
        // Peak hours: 23:00 UTC on that weekday, 00:00 the next weekday in Paris.
        var weekday = ((int)day.DayOfWeek + 6) % 7;
        Assert.Equal(1, utc.GetProperty("peakHours")[weekday][23].GetInt64());
        Assert.Equal(1, paris.GetProperty("peakHours")[(weekday + 1) % 7][0].GetInt64());
        Assert.Equal(1, paris.GetProperty("countries")[0].GetProperty("scans").GetInt64());
    }

    [Fact]
    public async Task Scans_stream_as_csv_anonymised_as_stored_and_spreadsheet_safe()
    {
        var code = (await _deployment.Http.CreateCodeAsync("https://example.org/csv")).GetProperty("code").GetString()!;
        for (var i = 0; i < 30; i++)
        {
            using var response = await _deployment.Http.ScanFromAsync(code, "81.2.69.142", i == 0 ? "=HYPERLINK(\"http://evil\")" : IPhone);
        }

        Assert.Equal(30, await _deployment.WaitForScanRowsAsync(code));
        using var csv = await _deployment.Http.GetAsync($"/api/codes/{code}/scans.csv");
        Assert.Equal(HttpStatusCode.OK, csv.StatusCode);
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        var lines = (await csv.Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n');
        Assert.StartsWith("scanned_at,ip_address,country_code", lines[0]);
        Assert.Equal(31, lines.Length);
        Assert.All(lines.Skip(1), l => Assert.Contains(",81.2.69.0,GB,", l));
        Assert.Contains(lines, l => l.Contains("\"'=HYPERLINK(\"\"http://evil\"\")\""));

        using var badPeriod = await _deployment.Http.GetAsync($"/api/codes/{code}/scans.csv?from=yesterday");
        Assert.Equal(HttpStatusCode.BadRequest, badPeriod.StatusCode);

        // tz: the same rows, each scan time in that zone with its offset (Kolkata has no daylight saving).
        using var kolkata = await _deployment.Http.GetAsync($"/api/codes/{code}/scans.csv?tz=Asia/Kolkata");
        Assert.Equal(HttpStatusCode.OK, kolkata.StatusCode);
        var local = (await kolkata.Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n');
        Assert.Equal(lines.Length, local.Length);
        for (var i = 1; i < lines.Length; i++)
        {
            var utcTime = DateTimeOffset.Parse(lines[i][..lines[i].IndexOf(',')], CultureInfo.InvariantCulture);
            var localText = local[i][..local[i].IndexOf(',')];
            Assert.EndsWith("+05:30", localText);
            Assert.Equal(utcTime, DateTimeOffset.Parse(localText, CultureInfo.InvariantCulture));
            Assert.Equal(utcTime.UtcDateTime.AddHours(5.5).ToString("yyyy-MM-dd'T'HH:mm:ss.fff", CultureInfo.InvariantCulture), localText[..23]);
        }

        using var badZone = await _deployment.Http.GetAsync($"/api/codes/{code}/scans.csv?tz=Mars/Olympus");
        Assert.Equal(HttpStatusCode.BadRequest, badZone.StatusCode);
        Assert.Equal("application/problem+json", badZone.Content.Headers.ContentType?.MediaType);
        Assert.True((await badZone.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("tz", out _));
    }

    [Theory]
    [InlineData("?tz=Mars/Olympus", "tz")]
    [InlineData("?granularity=minute", "granularity")]
    [InlineData("?from=2026-02-30", "from")]
    [InlineData("?from=2026-11-10&to=2026-11-01", "from")]
    [InlineData("?granularity=hour&from=2026-01-01&to=2026-06-01", "to")]
    [InlineData("?to=2026-11-01T10:00:00", "to")]
    public async Task Bad_stats_parameters_answer_400_naming_the_parameter(string query, string field)
    {
        var code = (await _deployment.Http.CreateCodeAsync("https://example.org/params")).GetProperty("code").GetString()!;
        using var response = await _deployment.Http.GetAsync($"/api/codes/{code}/stats{query}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task The_account_summary_covers_all_the_owners_codes()
    {
        // An owner of its own: the class's other tests scan the admin's codes in the same database.
        using var owner = await _deployment.CreateOwnerClientAsync("summary-owner");
        var first = (await owner.CreateCodeAsync("https://example.org/a1")).GetProperty("code").GetString()!;
        var second = (await owner.CreateCodeAsync("https://example.org/a2")).GetProperty("code").GetString()!;
        await _deployment.Http.ScanManyAsync(first, 3, parallelism: 1);
        await _deployment.Http.ScanManyAsync(second, 2, parallelism: 1);
        await _deployment.FlushAsync();

        var deadline = DateTime.UtcNow.AddSeconds(10);
        JsonElement summary;
        do
        {
            summary = await owner.GetFromJsonAsync<JsonElement>("/api/stats");
        }
        while (summary.GetProperty("totals").GetProperty("scans").GetInt64() < 5 && DateTime.UtcNow < deadline && await Polling.Pause(50));

        Assert.Equal(5, summary.GetProperty("totals").GetProperty("scans").GetInt64());
        Assert.Equal(first, summary.GetProperty("topCodes")[0].GetProperty("code").GetString());
        Assert.Equal(second, summary.GetProperty("topCodes")[1].GetProperty("code").GetString());
    }

    private static string Tomorrow() => DateTime.UtcNow.Date.AddDays(1).ToString("yyyy-MM-dd");

    private static long Sum(JsonElement stats, string list, string name) =>
        stats.GetProperty(list).EnumerateArray().Where(d => d.GetProperty("name").GetString() == name).Sum(d => d.GetProperty("scans").GetInt64());

    private static string BusyBucket(JsonElement stats) =>
        stats.GetProperty("series").EnumerateArray().Single(b => b.GetProperty("scans").GetInt64() > 0).GetProperty("start").GetString()!;

    private async Task<JsonElement> StatsAsync(string code, string query = "") =>
        await _deployment.Http.GetFromJsonAsync<JsonElement>($"/api/codes/{code}/stats{query}");

    /// <summary>Polls the code's stats until <paramref name="done"/> holds or the time is up; returns the last answer.</summary>
    private async Task<JsonElement> WaitForStatsAsync(string code, Func<JsonElement, bool> done, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        var stats = await StatsAsync(code);
        while (!done(stats) && DateTime.UtcNow < deadline && await Polling.Pause(100))
        {
            stats = await StatsAsync(code);
        }

        return stats;
    }

    private async Task<List<ulong>> VisitorHashesAsync(string code)
    {
        await using var connection = new Npgsql.NpgsqlConnection(_deployment.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(
            "SELECT DISTINCT s.visitor_hash FROM qr_scans s JOIN qr_codes c ON c.id = s.qr_code_id WHERE c.code = $1 AND NOT s.is_bot AND s.visitor_hash IS NOT NULL",
            connection);
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = code });
        var hashes = new List<ulong>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            hashes.Add(unchecked((ulong)reader.GetInt64(0)));
        }

        return hashes;
    }
}
