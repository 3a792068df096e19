using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Http;

/// <summary>Erasing an owner is all or nothing from the outside, and the bootstrap admin's owner cannot be erased.</summary>
[Collection(PostgresCollection.Name)]
public sealed class OwnerErasureTests(PostgresServer postgres, SharedGatewayHost shared) : IClassFixture<SharedGatewayHost>, IAsyncLifetime
{
    private GatewayHost _deployment = null!;

    public async Task InitializeAsync() => _deployment = await shared.GetAsync(postgres);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Erasure_under_concurrent_creates_leaves_nothing_or_says_it_did_not_finish()
    {
        var key = await _deployment.CreateOwnerAsync("erased-while-busy");
        var ownerId = await _deployment.ScalarAsync("SELECT id FROM owners WHERE name = 'erased-while-busy'");
        using var owner = _deployment.CreateClient(key);
        var first = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            first.Add((await owner.CreateCodeAsync($"https://example.org/{i}")).GetProperty("code").GetString()!);
        }

        await _deployment.Http.ScanManyAsync(first[0], 5);
        await _deployment.FlushAsync();
        var codeIds = new ConcurrentBag<long>();
        foreach (var code in first)
        {
            codeIds.Add(await _deployment.ScalarAsync("SELECT id FROM qr_codes WHERE code = $1", code));
        }

        // Four clients keep creating codes with the owner's key, before, during and after the erasure.
        using var stop = new CancellationTokenSource();
        var acceptedAfterErasure = 0;
        var erased = false;
        var creating = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var response = await owner.PostAsJsonAsync("/api/codes", new { targetUrl = "https://example.org/late" });
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    var code = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString()!;
                    codeIds.Add(await _deployment.ScalarAsync("SELECT coalesce(max(id), 0) FROM qr_codes WHERE code = $1", code));
                    if (Volatile.Read(ref erased))
                    {
                        Interlocked.Increment(ref acceptedAfterErasure);
                    }
                }
            }
        })).ToArray();

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (codeIds.Count < 20 && DateTime.UtcNow < deadline && await Polling.Pause(10))
        {
        }

        Assert.True(codeIds.Count >= 20, "the creators got no codes in before the erasure");
        using var erase = await _deployment.Http.DeleteAsync($"/api/owners/{ownerId}");
        var answer = await erase.Content.ReadAsStringAsync();
        Volatile.Write(ref erased, erase.StatusCode == HttpStatusCode.NoContent);

        // Keep the creators going for a while after the answer: nothing they send may land.
        var afterwards = await _deployment.ScalarAsync("SELECT count(*) FROM qr_codes WHERE owner_id = $1", ownerId);
        var more = DateTime.UtcNow.AddMilliseconds(500);
        while (DateTime.UtcNow < more && await Polling.Pause(20))
        {
        }

        await stop.CancelAsync();
        await Task.WhenAll(creating);

        Assert.Equal(0, await _deployment.ScalarAsync("SELECT count(*) FROM api_keys WHERE owner_id = $1 AND revoked_at IS NULL", ownerId));
        if (erase.StatusCode == HttpStatusCode.ServiceUnavailable)
        {
            // It says so, and repeating the DELETE finishes the job (404 once an erasure still running got there first).
            Assert.Contains("did not finish", answer);
            var again = HttpStatusCode.ServiceUnavailable;
            for (var attempt = 0; attempt < 5 && again == HttpStatusCode.ServiceUnavailable; attempt++)
            {
                using var repeat = await _deployment.Http.DeleteAsync($"/api/owners/{ownerId}");
                again = repeat.StatusCode;
            }

            Assert.True(again is HttpStatusCode.NoContent or HttpStatusCode.NotFound, $"repeated DELETE: {(int)again}");
        }
        else
        {
            Assert.True(erase.StatusCode == HttpStatusCode.NoContent, $"{(int)erase.StatusCode}: {answer}");
            Assert.Equal(0, afterwards);
        }

        Assert.Equal(0, acceptedAfterErasure);
        Assert.Equal(0, await _deployment.ScalarAsync("SELECT count(*) FROM owners WHERE id = $1", ownerId));
        Assert.Equal(0, await _deployment.ScalarAsync("SELECT count(*) FROM api_keys WHERE owner_id = $1", ownerId));
        Assert.Equal(0, await _deployment.ScalarAsync("SELECT count(*) FROM qr_codes WHERE owner_id = $1", ownerId));
        await _deployment.FlushAsync();
        var ids = codeIds.ToArray();
        foreach (var table in new[] { "qr_scans", "qr_rollup_hourly", "qr_code_totals", "qr_rollup_dims_hourly", "qr_rollup_dims_daily" })
        {
            Assert.Equal(0, await _deployment.ScalarAsync($"SELECT count(*) FROM {table} WHERE qr_code_id = ANY($1)", ids));
        }

        using var late = await owner.PostAsJsonAsync("/api/codes", new { targetUrl = "https://example.org/too-late" });
        Assert.Equal(HttpStatusCode.Unauthorized, late.StatusCode);
    }

    [Fact]
    public async Task The_bootstrap_admins_owner_cannot_be_erased_or_taken_so_its_key_stays_admin()
    {
        using (var bootstrap = await _deployment.Http.GetAsync("/app/session"))
        {
            Assert.Equal(HttpStatusCode.OK, bootstrap.StatusCode);
        }

        var adminId = await _deployment.ScalarAsync("SELECT id FROM owners WHERE name = 'admin'");
        using var created = await _deployment.Http.PostAsJsonAsync("/api/owners", new { name = "second-admin", role = "admin" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var otherKey = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("apiKey").GetProperty("key").GetString()!;
        using var other = _deployment.CreateClient(otherKey);

        using (var erase = await other.DeleteAsync($"/api/owners/{adminId}"))
        {
            Assert.Equal(HttpStatusCode.Conflict, erase.StatusCode);
        }

        using (var takeName = await other.PostAsJsonAsync("/api/owners", new { name = "Admin", role = "owner" }))
        {
            Assert.Equal(HttpStatusCode.Conflict, takeName.StatusCode);
        }

        Assert.Equal(1, await _deployment.ScalarAsync("SELECT count(*) FROM owners WHERE id = $1 AND role = 'admin'", adminId));
        using var whoAmI = await _deployment.Http.GetAsync("/app/session");
        Assert.Equal("admin", (await whoAmI.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("role").GetString());
    }
}
