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
}
