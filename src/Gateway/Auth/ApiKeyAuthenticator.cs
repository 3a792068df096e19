using InvexQr.Abstractions;
using System.Security.Cryptography;
using InvexQr.Grains.Accounts;
using InvexQr.Silo.Hosting;
using Microsoft.Extensions.Options;

namespace InvexQr.Gateway.Auth;

/// <summary>
/// Turns the SHA-256 hash of an API key into its principal: the bootstrap admin key (<c>Auth:ApiKey</c>,
/// compared by hash) or a stored key through <see cref="IAccountsGrain.Authenticate"/>, both behind
/// <see cref="ApiKeyCache"/>. Used for API keys in headers and for dashboard sessions alike.
/// </summary>
public sealed class ApiKeyAuthenticator(
    IClusterClient cluster, ApiKeyCache cache, IOptionsMonitor<ApiKeyAuthenticationOptions> options, GrainCallerTokens tokens)
{
    public Task<Principal?> FindAsync(byte[] keyHash) => cache.GetOrLookupAsync(keyHash, async () =>
    {
        var bootstrap = options.Get(ApiKeyAuthenticationHandler.SchemeName).ApiKey;
        if (!string.IsNullOrEmpty(bootstrap) && CryptographicOperations.FixedTimeEquals(keyHash, ApiKeys.Hash(bootstrap)))
        {
            // The operator's key matched: only now may this flow act as the operator (GrainCallerRules: EnsureOwner is admin-only).
            using var operatorCall = GrainCaller.Act(GrainCaller.Operator, tokens);
            var admin = await cluster.GetGrain<IAccountsGrain>(0).EnsureOwner(Roles.BootstrapAdminName, Roles.Admin);
            // Admin whatever the row says: the bootstrap key must never lose its role to a re-created owner.
            return new Principal(admin.Id, Roles.Admin, KeyId: 0);
        }

        return await cluster.GetGrain<IAccountsGrain>(0).Authenticate(keyHash);
    });
}
