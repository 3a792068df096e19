namespace InvexQr.Abstractions;

/// <summary>Owners and API keys. A stateless worker: every call is a database operation, any silo can serve it.</summary>
public interface IAccountsGrain : IGrainWithIntegerKey
{
    /// <summary>The principal of a non-revoked key with this SHA-256 hash, or null.</summary>
    Task<Principal?> Authenticate(byte[] keyHash);

    /// <summary>Creates an owner with a first key. Null when the name is taken.</summary>
    Task<CreatedOwner?> CreateOwner(string name, string role);

    /// <summary>The owner with this name, created (as <paramref name="role"/>) if missing. Used to bootstrap the admin.</summary>
    Task<OwnerInfo> EnsureOwner(string name, string role);

    Task<OwnerInfo?> FindOwner(long ownerId);

    /// <summary>Up to <paramref name="limit"/> owners with an id above <paramref name="afterId"/>, by id.</summary>
    Task<IReadOnlyList<OwnerInfo>> ListOwners(long afterId, int limit);

    Task<NewApiKey?> CreateKey(long ownerId, string name);

    Task<IReadOnlyList<ApiKeyInfo>> ListKeys(long ownerId);

    Task<bool> RevokeKey(long ownerId, long keyId);

    /// <summary>Signs a dashboard session out on every gateway (they ask <see cref="IsSessionEnded"/>) until <paramref name="expiresAt"/>.</summary>
    Task EndSession(string sessionId, DateTimeOffset expiresAt);

    /// <summary>True when the dashboard session was signed out.</summary>
    Task<bool> IsSessionEnded(string sessionId);

    /// <summary>
    /// Erases an owner: first marks it as being erased (no new code is accepted for it) and revokes its keys, then
    /// deletes every code (each through its grain, which deletes the code, its raw scans and its rollups), then the
    /// owner and its keys. <see cref="ErasureOutcome.Erased"/> only when all of that is gone; the bootstrap admin
    /// (<see cref="Roles.BootstrapAdminName"/>) is refused.
    /// </summary>
    Task<OwnerErasure> DeleteOwner(long ownerId);
}
