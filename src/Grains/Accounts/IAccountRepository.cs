using InvexQr.Abstractions;
namespace InvexQr.Grains.Accounts;

/// <summary>Owners, API keys and signed-out dashboard sessions (<c>owners</c>, <c>api_keys</c>, <c>dashboard_sign_outs</c>). Implemented with Npgsql in the silo.</summary>
public interface IAccountRepository
{
    Task<Principal?> AuthenticateAsync(byte[] keyHash);

    /// <summary>Creates the owner, or returns the existing one with that name (case-insensitive) when <paramref name="reuseExisting"/>.</summary>
    Task<OwnerInfo?> CreateOwnerAsync(string name, string role, bool reuseExisting);

    Task<OwnerInfo?> FindOwnerAsync(long ownerId);

    /// <summary>Up to <paramref name="limit"/> owners with an id above <paramref name="afterId"/>, by id.</summary>
    Task<IReadOnlyList<OwnerInfo>> ListOwnersAsync(long afterId, int limit);

    Task<ApiKeyInfo> AddKeyAsync(long ownerId, string name, string prefix, byte[] keyHash);

    Task<IReadOnlyList<ApiKeyInfo>> ListKeysAsync(long ownerId);

    /// <summary>Revokes one of the owner's keys; false when the owner has no such key.</summary>
    Task<bool> RevokeKeyAsync(long ownerId, long keyId);

    /// <summary>Records a dashboard session as signed out until it would have expired (and forgets expired ones).</summary>
    Task EndSessionAsync(string sessionId, DateTimeOffset expiresAt);

    /// <summary>True when the dashboard session was signed out.</summary>
    Task<bool> IsSessionEndedAsync(string sessionId);

    /// <summary>
    /// Marks the owner as being erased (no new code or webhook endpoint is accepted for it), revokes all its keys and
    /// deletes its webhook endpoints (with their queued events and delivery log), in one transaction.
    /// </summary>
    Task BeginErasureAsync(long ownerId);

    /// <summary>Deletes an owner that has no codes left, with its keys; false when there is no such owner (or it still has codes).</summary>
    Task<bool> DeleteOwnerAsync(long ownerId);
}
