using InvexQr.Grains;
using InvexQr.Abstractions;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.InProcess;

/// <summary>The code grain and the directory on a real cluster and a real database.</summary>
[Collection(PostgresCollection.Name)]
public sealed class QrCodeGrainTests(PostgresServer postgres)
{
    [Fact]
    public async Task Unknown_codes_activate_no_code_grain_and_hit_the_database_once_per_ttl()
    {
        await using var cluster = await PostgresCluster.StartAsync(postgres);
        var directory = cluster.Client.GetGrain<ICodeDirectoryGrain>(0);
        var readsBefore = cluster.Reads.Value;

        for (var i = 0; i < 500; i++)
        {
            Assert.False(await directory.Exists("nobody-made-this"));
        }

        Assert.Equal(1, cluster.Reads.Value - readsBefore);
        Assert.Equal(0, await cluster.ActivationsAsync<QrCodeGrain>());
    }

    [Fact]
    public async Task Scans_keep_flowing_while_a_management_call_waits_on_the_database()
    {
        await using var cluster = await PostgresCluster.StartAsync(postgres);
        var grain = cluster.Client.GetGrain<IQrCodeGrain>("hot-code");
        await grain.Create(new CreateCodeCommand("https://example.org/before", null, null));

        // Another transaction holds the code's row: the update waits for it inside PostgreSQL.
        await using var blocker = new Npgsql.NpgsqlConnection(cluster.ConnectionString);
        await blocker.OpenAsync();
        await using var held = await blocker.BeginTransactionAsync();
        await using (var lockRow = new Npgsql.NpgsqlCommand("SELECT 1 FROM qr_codes WHERE code = 'hot-code' FOR UPDATE", blocker, held))
        {
            await lockRow.ExecuteNonQueryAsync();
        }

        var update = grain.Update(null, new UpdateCodeCommand("https://example.org/after", null, null));
        // From 2,000 different addresses: one address would (rightly) be throttled after its burst.
        var scans = Enumerable.Range(0, 2000).Select(i => grain.Scan(new ScanRequest($"198.51.{i / 256}.{i % 256}", "ua", null)).AsTask()).ToList();
        var scansDone = Task.WhenAll(scans);

        // All 2,000 scans are answered while the update is still waiting on its database write.
        Assert.Same(scansDone, await Task.WhenAny(scansDone, update));
        Assert.All(scans, s => Assert.Equal("https://example.org/before", s.Result.TargetUrl));
        Assert.False(update.IsCompleted);

        await held.CommitAsync();
        await update;
        Assert.Equal("https://example.org/after", (await grain.Scan(new ScanRequest(null, null, null))).TargetUrl);
    }
}
