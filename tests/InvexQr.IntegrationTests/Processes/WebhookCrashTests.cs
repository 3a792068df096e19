using System.Globalization;
using System.Net.Http.Json;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Processes;

/// <summary>
/// The webhook outbox across a silo killed (kill -9) while a delivery is in flight: the silo process is the point, since
/// the delivery's claim is a transaction that must die with the process's connection.
/// </summary>
[Collection(ProcessesCollection.Name)]
public sealed class WebhookCrashTests(PostgresServer postgres)
{
    [Fact]
    public async Task A_silo_killed_during_a_delivery_loses_no_event_and_resends_only_the_batch_in_flight()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var inFlight = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        receiver.Respond = async n =>
        {
            if (n == 3)
            {
                // The fourth request is held while the test kills the silo that sent it.
                inFlight.TrySetResult();
                await Task.Delay(TimeSpan.FromSeconds(5));
            }

            return 200;
        };
        var silo = new Dictionary<string, string>
        {
            ["ScanSink__Durability"] = "Committed",
            ["Webhooks__AllowPrivateAddresses"] = "true",
            ["Webhooks__BatchSize"] = "50",
            ["Webhooks__BatchWindowMs"] = "100",
            ["Webhooks__RequestTimeoutSeconds"] = "30",
            // Restarted where it ran, as a supervisor would: the new generation supersedes the dead one at once.
            ["Orleans__SiloPort"] = Shell.FreePort().ToString(CultureInfo.InvariantCulture),
            ["Orleans__GatewayPort"] = Shell.FreePort().ToString(CultureInfo.InvariantCulture),
        };
        await using var deployment = await Deployment.StartAsync(
            postgres, siloSettings: silo, gatewaySettings: new Dictionary<string, string> { ["Webhooks__AllowPrivateAddresses"] = "true" });
        using (var register = await deployment.Http.PostAsJsonAsync("/api/webhooks", new { url = receiver.Url, events = new[] { "scan" } }))
        {
            Assert.True(register.IsSuccessStatusCode, await register.Content.ReadAsStringAsync());
        }

        var codes = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            codes.Add((await deployment.Http.CreateCodeAsync($"https://example.org/hook-crash/{i}")).GetProperty("code").GetString()!);
        }

        var load = new ScanLoad(deployment.Http, codes, workers: 4);
        await inFlight.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await deployment.Silos[0].KillAsync();
        await load.StopAsync();
        var held = receiver.Requests.Count; // the held request is recorded only when it is answered

        await deployment.StartSiloAsync(silo);
        var stored = new HashSet<string>();
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            stored = (await ScanIdsAsync(deployment)).ToHashSet();
            var received = receiver.Requests.SelectMany(r => r.Events).Select(e => e.GetProperty("id").GetString()!).ToHashSet();
            if (stored.Count > 0 && stored.IsSubsetOf(received) && receiver.Requests.Count > held)
            {
                break;
            }

            await Polling.Pause(200);
        }

        var all = receiver.Requests.SelectMany(r => r.Events).Select(e => e.GetProperty("id").GetString()!).ToList();
        var lost = stored.Except(all).Count();
        Assert.True(lost == 0, $"{lost} of {stored.Count} stored scans never delivered; {load.Describe()}");
        Assert.True(load.Redirects > 0 && stored.Count >= load.Redirects, $"{stored.Count} stored for {load.Redirects} redirects");
        // At least once: only the batch that was in flight when the silo died may arrive twice.
        var heldEvents = System.Text.Json.JsonDocument.Parse(receiver.BodiesByArrival[3]).RootElement.GetProperty("events").EnumerateArray()
            .Select(e => e.GetProperty("id").GetString()!).ToList();
        var duplicates = all.GroupBy(id => id).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet();
        Assert.True(duplicates.IsSubsetOf(heldEvents),
            $"{duplicates.Count} duplicates outside the batch in flight");
        Assert.Empty(all.Except(stored)); // nothing that is not a stored scan
        Console.WriteLine(
            $"Webhooks across kill -9: {stored.Count} scans stored, {all.Distinct().Count()} delivered, {all.Count - all.Distinct().Count()} " +
            $"delivered twice (the batch in flight had {heldEvents.Count}), {receiver.Requests.Count} requests");
    }

    private static async Task<List<string>> ScanIdsAsync(Deployment deployment)
    {
        await using var connection = new Npgsql.NpgsqlConnection(deployment.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT id::text FROM qr_scans", connection);
        var ids = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }
}
