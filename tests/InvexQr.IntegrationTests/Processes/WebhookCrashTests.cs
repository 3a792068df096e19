using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using InvexQr.Data;
using InvexQr.Grains.Webhooks;
using InvexQr.IntegrationTests.Infrastructure;
using InvexQr.Silo.Hosting.Webhooks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace InvexQr.IntegrationTests.Processes;

/// <summary>
/// The webhook outbox across a silo killed (kill -9) while a delivery is in flight: the process is the point, since the
/// delivery's claim is a transaction that must die with the process's connection. One process (a gateway co-hosting its
/// silo) is started; after the kill, the delivery service runs in this test process, as the next silo to claim would.
/// </summary>
[Collection(ProcessesCollection.Name)]
public sealed class WebhookCrashTests(PostgresServer postgres)
{
    [Fact]
    public async Task A_silo_killed_during_a_delivery_loses_no_event_and_resends_only_the_batch_in_flight()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using var receiver = await WebhookReceiver.StartAsync();
        var inFlight = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        receiver.Respond = async n =>
        {
            if (n == 3)
            {
                // The fourth request is taken (200) but only once the silo that sent it is dead: it never learns.
                inFlight.TrySetResult();
                await release.Task.WaitAsync(TimeSpan.FromSeconds(60));
            }

            return 200;
        };
        var spool = Path.Combine(Path.GetTempPath(), "invexqr-hookcrash-" + Guid.NewGuid().ToString("N"));
        try
        {
            await RunAsync(receiver, inFlight, release, spool, clock);
        }
        finally
        {
            if (Directory.Exists(spool))
            {
                Directory.Delete(spool, recursive: true);
            }
        }
    }

    private async Task RunAsync(
        WebhookReceiver receiver, TaskCompletionSource inFlight, TaskCompletionSource release, string spool, System.Diagnostics.Stopwatch clock)
    {
        await using var deployment = await Deployment.StartAsync(postgres, silos: 0, gatewaySettings: new Dictionary<string, string>
        {
            ["Gateway__CoHostSilo"] = "true",
            ["Orleans__SiloPort"] = Shell.FreePort().ToString(CultureInfo.InvariantCulture),
            ["Orleans__GatewayPort"] = Shell.FreePort().ToString(CultureInfo.InvariantCulture),
            ["ScanSink__Durability"] = "Committed",
            ["ScanSink__SpoolDirectory"] = spool,
            ["Webhooks__AllowPrivateAddresses"] = "true",
            ["Webhooks__BatchSize"] = "50",
            ["Webhooks__BatchWindowMs"] = "100",
            ["Webhooks__RequestTimeoutSeconds"] = "60",
        });
        var started = clock.Elapsed;
        using (var register = await deployment.Http.PostAsJsonAsync("/api/webhooks", new { url = receiver.Url, events = new[] { "scan" } }))
        {
            Assert.True(register.IsSuccessStatusCode, await register.Content.ReadAsStringAsync());
        }

        var codes = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            codes.Add((await deployment.Http.CreateCodeAsync($"https://example.org/hook-crash/{i}")).GetProperty("code").GetString()!);
        }

        // Scans keep coming while the fourth delivery is held; then the process dies with that claim open.
        var load = new ScanLoad(deployment.Http, codes, workers: 4);
        await inFlight.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await load.WaitForRedirectsAsync(load.Redirects + 20);
        await deployment.Gateway.KillAsync();
        await load.StopAsync();
        release.SetResult();
        var stored = await ScanIdsAsync(deployment.ConnectionString);
        Assert.True(load.Redirects > 0 && stored.Count >= load.Redirects, $"{stored.Count} stored for {load.Redirects} redirects");
        var held = Ids(receiver.BodiesByArrival[3]);
        Assert.NotEmpty(held);

        // The next deliverer: the same service a silo runs, on the same outbox.
        await using var dataSource = NpgsqlDataSource.Create(deployment.ConnectionString);
        var options = Options.Create(new WebhookOptions { AllowPrivateAddresses = true, BatchSize = 50, BatchWindowMs = 100, GoneSweepSeconds = 3600 });
        using var delivery = new WebhookDelivery(new WebhookOutbox(dataSource), options, TimeProvider.System, NullLogger<WebhookDelivery>.Instance);
        var before = receiver.Arrived;
        await delivery.StartAsync(CancellationToken.None);
        try
        {
            await receiver.WaitForAsync(() => stored.IsSubsetOf(Delivered(receiver).ToHashSet()), $"the {stored.Count} stored scans delivered", seconds: 60);
            // The receiver answers before the deliverer records it: the outbox empties right after.
            var drainedBy = DateTime.UtcNow.AddSeconds(30);
            while (await CountAsync(deployment.ConnectionString, "SELECT count(*) FROM webhook_outbox") > 0 && DateTime.UtcNow < drainedBy
                   && await Polling.Pause(50))
            {
            }
        }
        finally
        {
            await delivery.StopAsync(CancellationToken.None);
        }

        // Nothing lost, nothing that is not a stored scan; the batch in flight was sent again first, whole and in order,
        // and it is all that arrived twice (at least once, de-duplicated on the event ids).
        var all = Delivered(receiver);
        Assert.Empty(all.Except(stored));
        var resent = Ids(receiver.BodiesByArrival[before]);
        Assert.Equal(held, resent.Take(held.Count));
        var duplicates = all.GroupBy(id => id).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet();
        Assert.True(duplicates.SetEquals(held), $"{duplicates.Count} delivered twice; the batch in flight had {held.Count}");
        Assert.Equal(0, await CountAsync(deployment.ConnectionString, "SELECT count(*) FROM webhook_outbox"));
        Console.WriteLine(
            $"Webhooks across kill -9: {stored.Count} scans stored, {all.Distinct().Count()} delivered, {duplicates.Count} delivered twice " +
            $"(the batch in flight), {receiver.Requests.Count} requests; process started in {started.TotalSeconds:F1} s, test {clock.Elapsed.TotalSeconds:F1} s");
    }

    private static List<string> Ids(byte[] body) =>
        JsonDocument.Parse(body).RootElement.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("id").GetString()!).ToList();

    /// <summary>The event ids of every request the receiver answered 2xx (in the order answered).</summary>
    private static List<string> Delivered(WebhookReceiver receiver) =>
        receiver.Delivered.Select(e => e.GetProperty("id").GetString()!).ToList();

    private static async Task<long> CountAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    private static async Task<HashSet<string>> ScanIdsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT id::text FROM qr_scans", connection);
        var ids = new HashSet<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }
}
