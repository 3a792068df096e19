using System.Net;
using System.Net.Http.Json;
using InvexQr.Abstractions;
using InvexQr.Grains.Accounts;
using InvexQr.IntegrationTests.Infrastructure;
using InvexQr.ServiceDefaults;
using InvexQr.Silo.Hosting;

namespace InvexQr.IntegrationTests.Http;

/// <summary>
/// Issue 19's cluster findings on the co-hosted layout (a gateway that is its own silo, as ./run.sh runs it): the Orleans
/// ports answer only clients with the cluster's certificate, and a grain does not take the owner id it is passed on trust.
/// The separate layout: Processes/SeparateSiloEndpointsTests.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ClusterTrustTests(PostgresServer postgres, SharedGatewayHost shared) : IClassFixture<SharedGatewayHost>, IAsyncLifetime
{
    private GatewayHost _host = null!;

    public async Task InitializeAsync() => _host = await shared.GetAsync(postgres);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task An_orleans_client_without_the_cluster_certificate_is_refused_and_one_with_it_still_needs_a_caller()
    {
        await ClusterTransportChecks.AssertOnlyClusterMembersConnectAsync(_host.ConnectionString, _host.ClusterId, () => _host.Logs);

        // Past the transport, with the gateway's own certificate, a client still cannot act as an owner: it cannot sign a caller.
        var (bob, _) = await OwnerAsync("trust-bob");
        var code = (await bob.CreateCodeAsync("https://example.org/bob")).GetProperty("code").GetString()!;
        await using var member = await OrleansProbe.ConnectAsync(_host.ConnectionString, _host.ClusterId, ClusterCertificates.Cluster.GatewaySettings());
        var grain = member.Client.GetGrain<IQrCodeGrain>(code);
        Assert.Equal(ScanOutcome.Redirect, (await grain.Resolve()).Outcome); // anonymous calls (scans) still work
        await Assert.ThrowsAsync<GrainCallRefusedException>(() => grain.Update(null, new UpdateCodeCommand("https://attacker.example/phish", null, null)));
        var forged = new GrainCallerTokens(new byte[32], TimeProvider.System);
        using (GrainCaller.Act(new GrainCaller(null, Roles.Admin), forged))
        {
            await Assert.ThrowsAsync<GrainCallRefusedException>(() => grain.Update(null, new UpdateCodeCommand("https://attacker.example/phish", null, null)));
            await Assert.ThrowsAsync<GrainCallRefusedException>(() => member.Client.GetGrain<IAccountsGrain>(0).CreateOwner("trust-mallory", Roles.Admin));
        }

        Assert.Equal("https://example.org/bob", (await grain.Resolve()).TargetUrl);
    }

    [Fact]
    public async Task A_call_as_owner_A_on_owner_B_code_is_refused_at_the_grain_boundary()
    {
        var (alice, aliceId) = await OwnerAsync("trust-alice");
        var (bob, bobId) = await OwnerAsync("trust-bob2");
        var code = (await bob.CreateCodeAsync("https://example.org/bob2")).GetProperty("code").GetString()!;
        var grains = _host.Get<IGrainFactory>();
        var tokens = _host.Get<GrainCallerTokens>(); // the gateway's own signer: Alice is a caller it did establish
        var phish = new UpdateCodeCommand("https://attacker.example/phish", null, null);

        using (GrainCaller.Act(new GrainCaller(aliceId, Roles.Owner), tokens))
        {
            var refused = await Assert.ThrowsAsync<GrainCallRefusedException>(() => grains.GetGrain<IQrCodeGrain>(code).Update(bobId, phish));
            Assert.Contains($"may not act for owner {bobId}", refused.Message);
            await Assert.ThrowsAsync<GrainCallRefusedException>(() => grains.GetGrain<IQrCodeGrain>(code).Delete(bobId));
            await Assert.ThrowsAsync<GrainCallRefusedException>(() => grains.GetGrain<IQrCodeGrain>(code).Update(null, phish));
            await Assert.ThrowsAsync<GrainCallRefusedException>(() => grains.GetGrain<ICodeCatalogGrain>(0).List(bobId, new CodeListQuery(10, null, null, null)));
            await Assert.ThrowsAsync<GrainCallRefusedException>(() => grains.GetGrain<IAccountsGrain>(0).CreateKey(bobId, "stolen"));
            await Assert.ThrowsAsync<GrainCallRefusedException>(() => grains.GetGrain<IAccountsGrain>(0).ListKeys(bobId));
            await Assert.ThrowsAsync<GrainCallRefusedException>(() => grains.GetGrain<IAccountsGrain>(0).CreateOwner("trust-eve", Roles.Admin));
            await Assert.ThrowsAsync<GrainCallRefusedException>(() => grains.GetGrain<IAccountsGrain>(0).DeleteOwner(bobId));
            await Assert.ThrowsAsync<GrainCallRefusedException>(() => grains.GetGrain<IQrCodeGrain>("trust-squat").Create(
                new CreateCodeCommand("https://attacker.example/", null, bobId)));
            // As herself she passes the boundary, and the grain then finds the code is not hers.
            Assert.Null(await grains.GetGrain<IQrCodeGrain>(code).Update(aliceId, phish));
        }

        using (GrainCaller.Act(new GrainCaller(bobId, Roles.Owner), tokens))
        {
            var updated = await grains.GetGrain<IQrCodeGrain>(code).Update(bobId, new UpdateCodeCommand("https://example.org/bob2-new", null, null));
            Assert.Equal("https://example.org/bob2-new", updated?.TargetUrl);
        }

        using var scan = await alice.GetAsync($"/r/{code}");
        Assert.Equal("https://example.org/bob2-new", scan.Headers.Location?.ToString());
        Assert.Contains($"may not act for owner {bobId}", _host.Logs); // logged where it was refused
    }

    [Fact]
    public void Every_method_of_the_management_grains_has_a_caller_rule()
    {
        foreach (var type in GrainCallerRules.Interfaces)
        {
            var classified = GrainCallerRules.Classified().Where(m => m.DeclaringType == type).Select(m => m.Name).ToHashSet();
            Assert.All(type.GetMethods(), m => Assert.Contains(m.Name, classified));
        }

        Assert.Contains(typeof(IQrCodeGrain), GrainCallerRules.Interfaces);
        Assert.Contains(typeof(IAccountsGrain), GrainCallerRules.Interfaces);
        Assert.Contains(typeof(ICodeCatalogGrain), GrainCallerRules.Interfaces);
    }

    [Fact]
    public async Task The_gateway_refuses_a_placeholder_admin_key_and_the_silo_a_short_one()
    {
        var environment = new Dictionary<string, string>(ClusterCertificates.AsEnvironment(ClusterCertificates.Cluster.GatewaySettings()))
        {
            ["ConnectionStrings__Postgres"] = _host.ConnectionString,
            ["Orleans__ClusterId"] = "refused-" + Guid.NewGuid().ToString("N")[..6],
            ["Auth__ApiKey"] = "local-admin-key-change-me-0123456789",
        };
        var (gatewayExit, gatewayOutput) = await ServiceProcess.RunToExitAsync("Gateway", environment);
        Assert.Equal(StartupConfigurationException.ExitCode, gatewayExit);
        Assert.Contains("InvexQr.Gateway: refusing to start: Auth:ApiKey (env Auth__ApiKey) is not a usable admin key: it contains \"change-me\"", gatewayOutput);

        // A silo on loopback needs no certificate to start, so only the key stands in its way.
        var (siloExit, siloOutput) = await ServiceProcess.RunToExitAsync("Silo", new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = _host.ConnectionString,
            ["Orleans__ClusterId"] = environment["Orleans__ClusterId"],
            ["Auth__ApiKey"] = "short-but-random-9f3a",
        });
        Assert.Equal(StartupConfigurationException.ExitCode, siloExit);
        Assert.Contains("InvexQr.Silo: refusing to start: Auth:ApiKey (env Auth__ApiKey) is not a usable admin key: it is 21 characters long", siloOutput);
    }

    private async Task<(HttpClient Client, long OwnerId)> OwnerAsync(string name)
    {
        var key = await _host.CreateOwnerAsync(name + "-" + Guid.NewGuid().ToString("N")[..6]);
        var principal = await _host.Get<IGrainFactory>().GetGrain<IAccountsGrain>(0).Authenticate(ApiKeys.Hash(key));
        return (_host.CreateClient(key), principal!.OwnerId);
    }
}

/// <summary>The transport half of the trust checks, shared by the co-hosted and the separate layout.</summary>
public static class ClusterTransportChecks
{
    public static async Task AssertOnlyClusterMembersConnectAsync(string connectionString, string clusterId, Func<string> serverLogs)
    {
        // In clear: the silo's TLS port never completes Orleans' handshake.
        await Assert.ThrowsAnyAsync<Exception>(async () => await (await OrleansProbe.ConnectAsync(connectionString, clusterId, tls: null)).DisposeAsync());

        // A certificate of another CA (the client trusts the cluster's CA, so it is the silo that says no).
        await Assert.ThrowsAnyAsync<Exception>(async () =>
            await (await OrleansProbe.ConnectAsync(connectionString, clusterId, OrleansProbe.ForeignClientSettings())).DisposeAsync());
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!serverLogs().Contains("issued by O=InvexQR tests, CN=test foreign CA") && DateTime.UtcNow < deadline && await Polling.Pause())
        {
        }

        Assert.Contains("Refused an Orleans client certificate", serverLogs());
        Assert.Contains("issued by O=InvexQR tests, CN=test foreign CA", serverLogs());

        // The control: the same client with the cluster's gateway certificate connects and calls.
        await using var member = await OrleansProbe.ConnectAsync(connectionString, clusterId, ClusterCertificates.Cluster.GatewaySettings());
        Assert.Equal(ScanOutcome.NotFound, (await member.Client.GetGrain<IQrCodeGrain>("no-such-code-tls").Resolve()).Outcome);
    }
}
