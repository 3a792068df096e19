using InvexQr.Grains;
using InvexQr.Abstractions;
using InvexQr.IntegrationTests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Storage;

namespace InvexQr.IntegrationTests.InProcess;

/// <summary>Orleans' real ADO.NET providers against our PostgreSQL schema and query text.</summary>
[Collection(PostgresCollection.Name)]
public sealed class OrleansPostgresProviderTests(PostgresServer postgres)
{
    private const int Active = 3, Dead = 6; // SiloStatus values as the membership table stores them

    [Fact]
    public async Task Silos_join_and_leave_through_the_membership_table()
    {
        await using var cluster = await PostgresCluster.StartAsync(postgres, silos: 2);
        Assert.Equal(2, await cluster.ScalarAsync($"SELECT count(*) FROM orleansmembershiptable WHERE status = {Active}"));
        Assert.Equal(1, await cluster.ScalarAsync("SELECT count(*) FROM orleansmembershipversiontable"));

        await cluster.Cluster.StopSiloAsync(cluster.Cluster.Silos[1]);
        Assert.Equal(1, await cluster.ScalarAsync($"SELECT count(*) FROM orleansmembershiptable WHERE status = {Active}"));
        Assert.Equal(1, await cluster.ScalarAsync($"SELECT count(*) FROM orleansmembershiptable WHERE status = {Dead}"));

        await cluster.Cluster.StartAdditionalSiloAsync();
        Assert.Equal(2, await cluster.ScalarAsync($"SELECT count(*) FROM orleansmembershiptable WHERE status = {Active}"));
        var hosts = await cluster.Client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        Assert.Equal(2, hosts.Count);
    }

    [Fact]
    public async Task A_codes_totals_survive_a_silo_restart()
    {
        await using var cluster = await PostgresCluster.StartAsync(postgres, silos: 1);
        var grain = cluster.Client.GetGrain<IQrCodeGrain>("restart-me");
        await grain.Create(new CreateCodeCommand("https://example.org/", null, null));
        for (var i = 0; i < 25; i++)
        {
            Assert.Equal(ScanOutcome.Redirect, (await grain.Scan(new ScanRequest("198.51.100.7", "test", null))).Outcome);
        }

        await cluster.Cluster.RestartSiloAsync(cluster.Cluster.Silos[0]);
        await cluster.Cluster.InitializeClientAsync();

        var details = await cluster.Client.GetGrain<IQrCodeGrain>("restart-me").Get();
        Assert.NotNull(details);
        Assert.Equal(25, details.TotalScans);
        Assert.Equal("https://example.org/", details.TargetUrl);
    }

    [Fact]
    public async Task A_stale_write_is_rejected()
    {
        await using var cluster = await PostgresCluster.StartAsync(postgres, silos: 1);
        var storage = cluster.Cluster.GetSiloServiceProvider().GetRequiredKeyedService<IGrainStorage>("Default");
        var grainId = GrainId.Create("qrcode", "stale-write");

        var first = new GrainState<List<string>>([]);
        var second = new GrainState<List<string>>([]);
        await storage.ReadStateAsync("state", grainId, first);
        await storage.ReadStateAsync("state", grainId, second);
        first.State = ["one"];
        await storage.WriteStateAsync("state", grainId, first);     // version 1
        first.State = ["two"];
        await storage.WriteStateAsync("state", grainId, first);     // version 2

        second.State = ["stale"];                                    // still holds the etag of "no state"
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("state", grainId, second));

        var reread = new GrainState<List<string>>([]);
        await storage.ReadStateAsync("state", grainId, reread);
        Assert.Equal(["two"], reread.State);
        Assert.Equal(first.ETag, reread.ETag);

        await storage.ClearStateAsync("state", grainId, reread);
        var cleared = new GrainState<List<string>>([]);
        await storage.ReadStateAsync("state", grainId, cleared);
        Assert.True(cleared.State is null or { Count: 0 });
    }
}
