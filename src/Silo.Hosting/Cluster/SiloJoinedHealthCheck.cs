using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans.Runtime;

namespace InvexQr.Silo.Hosting;

/// <summary>Ready only once this silo is an active member of the cluster (and not while it is shutting down).</summary>
public sealed class SiloJoinedHealthCheck(IClusterMembershipService membership, ILocalSiloDetails local) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = membership.CurrentSnapshot.GetSiloStatus(local.SiloAddress);
        return Task.FromResult(status == SiloStatus.Active
            ? HealthCheckResult.Healthy($"Silo {local.SiloAddress} is active")
            : HealthCheckResult.Unhealthy($"Silo {local.SiloAddress} is {status}"));
    }
}
