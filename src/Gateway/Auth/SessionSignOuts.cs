using InvexQr.Grains.Caching;
using InvexQr.Abstractions;
using InvexQr.Grains.Accounts;

namespace InvexQr.Gateway.Auth;

/// <summary>
/// Which dashboard sessions were signed out, across every gateway. A session cookie is self-contained (any gateway
/// can read it), so signing out has to be recorded where all of them look: <see cref="IAccountsGrain.EndSession"/>
/// keeps it in the database until the session would have expired. A gateway asks about a session at most once per
/// <see cref="ApiKeyCache.Ttl"/>, as it does about the session's key: a sign-out holds at once on the gateway that
/// made it and within that time on the others, like a revoked key.
/// </summary>
public sealed class SessionSignOuts(IClusterClient cluster, TimeProvider clock)
{
    private readonly ExpiringCache<bool> _ended = new(100_000, DashboardSessions.Lifetime, clock);
    private readonly ExpiringCache<bool> _live = new(100_000, ApiKeyCache.Ttl, clock);

    public async ValueTask<bool> IsSignedOutAsync(DashboardSessions.Session session)
    {
        if (_ended.TryGet(session.Id, out _))
        {
            return true;
        }

        if (_live.TryGet(session.Id, out _))
        {
            return false;
        }

        var ended = await cluster.GetGrain<IAccountsGrain>(0).IsSessionEnded(session.Id);
        (ended ? _ended : _live).Set(session.Id, true);
        return ended;
    }

    /// <summary>
    /// Records the sign-out for every gateway, then ends the session here. When the record fails (the database is
    /// down) the error reaches the caller and the session stays signed in everywhere, this gateway included, so
    /// that signing out again is still a signed-in request and gets recorded.
    /// </summary>
    public async Task SignOutAsync(string sessionId, DateTimeOffset expiresAt)
    {
        await cluster.GetGrain<IAccountsGrain>(0).EndSession(sessionId, expiresAt);
        _ended.Set(sessionId, true);
        _live.Remove(sessionId);
    }
}
