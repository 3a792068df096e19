using InvexQr.Abstractions;
using Orleans.Concurrency;

namespace InvexQr.Grains.Accounts;

/// <summary>Owners and API keys over <see cref="IAccountRepository"/>; keys are generated here and only their hashes stored.</summary>
[StatelessWorker]
public sealed class AccountsGrain(IAccountRepository accounts) : Grain, IAccountsGrain
{
    public Task<Principal?> Authenticate(byte[] keyHash) => accounts.AuthenticateAsync(keyHash);

    public async Task<CreatedOwner?> CreateOwner(string name, string role)
    {
        var owner = await accounts.CreateOwnerAsync(name, role, reuseExisting: false);
        if (owner is null)
        {
            return null;
        }

        return new CreatedOwner(owner, (await CreateKey(owner.Id, "first key"))!);
    }

    public async Task<OwnerInfo> EnsureOwner(string name, string role) =>
        (await accounts.CreateOwnerAsync(name, role, reuseExisting: true))!;

    public Task<OwnerInfo?> FindOwner(long ownerId) => accounts.FindOwnerAsync(ownerId);

    public Task<IReadOnlyList<OwnerInfo>> ListOwners(long afterId, int limit) => accounts.ListOwnersAsync(afterId, limit);

    public async Task<NewApiKey?> CreateKey(long ownerId, string name)
    {
        if (await accounts.FindOwnerAsync(ownerId) is null)
        {
            return null;
        }

        var key = ApiKeys.NewKey();
        var info = await accounts.AddKeyAsync(ownerId, name, ApiKeys.Prefix(key), ApiKeys.Hash(key));
        return new NewApiKey(info, key);
    }

    public Task<IReadOnlyList<ApiKeyInfo>> ListKeys(long ownerId) => accounts.ListKeysAsync(ownerId);

    public Task<bool> RevokeKey(long ownerId, long keyId) => accounts.RevokeKeyAsync(ownerId, keyId);

    public Task EndSession(string sessionId, DateTimeOffset expiresAt) => accounts.EndSessionAsync(sessionId, expiresAt);

    public Task<bool> IsSessionEnded(string sessionId) => accounts.IsSessionEndedAsync(sessionId);

    /// <summary>Rounds of "delete every code, then the owner": a code whose insert raced the erasure mark needs a second one.</summary>
    private const int ErasureRounds = 5;

    public async Task<OwnerErasure> DeleteOwner(long ownerId)
    {
        var owner = await accounts.FindOwnerAsync(ownerId);
        if (owner is null)
        {
            return new OwnerErasure(ErasureOutcome.NotFound, 0, 0);
        }

        if (string.Equals(owner.Name, Roles.BootstrapAdminName, StringComparison.OrdinalIgnoreCase))
        {
            return new OwnerErasure(ErasureOutcome.Refused, 0, 0);
        }

        // From here on no new code is accepted for the owner and its keys are revoked: the codes can only get fewer.
        await accounts.BeginErasureAsync(ownerId);

        // Through the code grains, not one SQL statement: an active grain holds the code in memory and
        // must forget it, or it would keep redirecting (and recording) until it deactivates.
        var deleted = 0;
        var catalog = GrainFactory.GetGrain<ICodeCatalogGrain>(0);
        for (var round = 0; round < ErasureRounds; round++)
        {
            while (true)
            {
                var page = await catalog.List(ownerId, new CodeListQuery(100, null, null, null));
                if (page.Items.Count == 0)
                {
                    break;
                }

                var progress = 0;
                foreach (var code in page.Items)
                {
                    if (await GrainFactory.GetGrain<IQrCodeGrain>(code.Code).Delete(ownerId))
                    {
                        progress++;
                    }
                }

                deleted += progress;
                if (progress == 0)
                {
                    break; // codes that no grain would delete: reported below, never looped on
                }
            }

            if (await accounts.DeleteOwnerAsync(ownerId))
            {
                return new OwnerErasure(ErasureOutcome.Erased, deleted, 0);
            }
        }

        var left = await catalog.List(ownerId, new CodeListQuery(100, null, null, null));
        return new OwnerErasure(ErasureOutcome.Incomplete, deleted, left.Items.Count);
    }
}
