using InvexQr.Abstractions;
using InvexQr.Grains.Accounts;
using Npgsql;
using NpgsqlTypes;

namespace InvexQr.Data;

/// <summary>All SQL on <c>owners</c>, <c>api_keys</c> and <c>dashboard_sign_outs</c>.</summary>
public sealed class AccountRepository(NpgsqlDataSource dataSource) : IAccountRepository
{
    private const string KeyColumns = "id, owner_id, name, prefix, created_at, revoked_at";

    public async Task<Principal?> AuthenticateAsync(byte[] keyHash)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT k.owner_id, o.role, k.id
              FROM api_keys k JOIN owners o ON o.id = k.owner_id
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL
            """);
        command.Parameters.Add(new() { Value = keyHash, NpgsqlDbType = NpgsqlDbType.Bytea });
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? new Principal(reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2)) : null;
    }

    public async Task<OwnerInfo?> CreateOwnerAsync(string name, string role, bool reuseExisting)
    {
        await using (var insert = dataSource.CreateCommand("""
            INSERT INTO owners (name, role) VALUES ($1, $2)
            ON CONFLICT (lower(name)) DO NOTHING
            RETURNING id, name, role, created_at
            """))
        {
            insert.Parameters.Add(new() { Value = name });
            insert.Parameters.Add(new() { Value = role });
            var created = await ReadOwnerAsync(insert);
            if (created is not null || !reuseExisting)
            {
                return created;
            }
        }

        await using var find = dataSource.CreateCommand("SELECT id, name, role, created_at FROM owners WHERE lower(name) = lower($1)");
        find.Parameters.Add(new() { Value = name });
        return await ReadOwnerAsync(find);
    }

    public async Task<OwnerInfo?> FindOwnerAsync(long ownerId)
    {
        await using var command = dataSource.CreateCommand("SELECT id, name, role, created_at FROM owners WHERE id = $1");
        command.Parameters.Add(new() { Value = ownerId });
        return await ReadOwnerAsync(command);
    }

    public async Task<IReadOnlyList<OwnerInfo>> ListOwnersAsync(long afterId, int limit)
    {
        await using var command = dataSource.CreateCommand("SELECT id, name, role, created_at FROM owners WHERE id > $1 ORDER BY id LIMIT $2");
        command.Parameters.Add(new() { Value = afterId });
        command.Parameters.Add(new() { Value = limit });
        var owners = new List<OwnerInfo>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            owners.Add(new OwnerInfo(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3)));
        }

        return owners;
    }

    public async Task<ApiKeyInfo> AddKeyAsync(long ownerId, string name, string prefix, byte[] keyHash)
    {
        await using var command = dataSource.CreateCommand($"""
            INSERT INTO api_keys (owner_id, name, prefix, key_hash) VALUES ($1, $2, $3, $4)
            RETURNING {KeyColumns}
            """);
        command.Parameters.Add(new() { Value = ownerId });
        command.Parameters.Add(new() { Value = name });
        command.Parameters.Add(new() { Value = prefix });
        command.Parameters.Add(new() { Value = keyHash, NpgsqlDbType = NpgsqlDbType.Bytea });
        return (await ReadKeysAsync(command)).Single();
    }

    public async Task<IReadOnlyList<ApiKeyInfo>> ListKeysAsync(long ownerId)
    {
        await using var command = dataSource.CreateCommand($"SELECT {KeyColumns} FROM api_keys WHERE owner_id = $1 ORDER BY id");
        command.Parameters.Add(new() { Value = ownerId });
        return await ReadKeysAsync(command);
    }

    public async Task<bool> RevokeKeyAsync(long ownerId, long keyId)
    {
        await using var command = dataSource.CreateCommand(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 AND owner_id = $2");
        command.Parameters.Add(new() { Value = keyId });
        command.Parameters.Add(new() { Value = ownerId });
        return await command.ExecuteNonQueryAsync() == 1;
    }

    public async Task EndSessionAsync(string sessionId, DateTimeOffset expiresAt)
    {
        // Sign-outs are rare and their rows few: the expired ones go at the next sign-out, with no job of their own.
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new("DELETE FROM dashboard_sign_outs WHERE expires_at < now()"));
        var insert = new NpgsqlBatchCommand("""
            INSERT INTO dashboard_sign_outs (session_id, expires_at) VALUES ($1, $2)
            ON CONFLICT (session_id) DO UPDATE SET expires_at = GREATEST(dashboard_sign_outs.expires_at, EXCLUDED.expires_at)
            """);
        insert.Parameters.Add(new() { Value = sessionId });
        insert.Parameters.Add(new() { Value = expiresAt.ToUniversalTime() });
        batch.BatchCommands.Add(insert);
        await batch.ExecuteNonQueryAsync();
    }

    public async Task<bool> IsSessionEndedAsync(string sessionId)
    {
        await using var command = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM dashboard_sign_outs WHERE session_id = $1)");
        command.Parameters.Add(new() { Value = sessionId });
        return (bool)(await command.ExecuteScalarAsync())!;
    }

    public async Task BeginErasureAsync(long ownerId)
    {
        await using var batch = dataSource.CreateBatch();
        var mark = new NpgsqlBatchCommand("UPDATE owners SET erasing_since = COALESCE(erasing_since, now()) WHERE id = $1");
        mark.Parameters.Add(new() { Value = ownerId });
        var revoke = new NpgsqlBatchCommand("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE owner_id = $1");
        revoke.Parameters.Add(new() { Value = ownerId });
        // Its webhook endpoints go at once, with their outbox and delivery log (ON DELETE CASCADE): nothing more of the
        // owner's is sent while its codes are deleted, and no code.deleted is queued for them.
        var webhooks = new NpgsqlBatchCommand("DELETE FROM webhook_endpoints WHERE owner_id = $1");
        webhooks.Parameters.Add(new() { Value = ownerId });
        batch.BatchCommands.Add(mark);
        batch.BatchCommands.Add(revoke);
        batch.BatchCommands.Add(webhooks);
        await batch.ExecuteNonQueryAsync(); // a batch is one implicit transaction
    }

    public async Task<bool> DeleteOwnerAsync(long ownerId)
    {
        // Keys go with the owner (ON DELETE CASCADE); codes must be gone first (qr_codes_owner_fk has no cascade on purpose).
        await using var command = dataSource.CreateCommand(
            "DELETE FROM owners o WHERE o.id = $1 AND NOT EXISTS (SELECT 1 FROM qr_codes c WHERE c.owner_id = o.id)");
        command.Parameters.Add(new() { Value = ownerId });
        try
        {
            return await command.ExecuteNonQueryAsync() == 1;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.ForeignKeyViolation)
        {
            // A code inserted by a transaction that had checked the owner just before it was marked, committed after
            // this statement's snapshot: the owner stays, and the caller deletes that code too.
            return false;
        }
    }

    private static async Task<OwnerInfo?> ReadOwnerAsync(NpgsqlCommand command)
    {
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync()
            ? new OwnerInfo(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3))
            : null;
    }

    private static async Task<List<ApiKeyInfo>> ReadKeysAsync(NpgsqlCommand command)
    {
        var keys = new List<ApiKeyInfo>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            keys.Add(new ApiKeyInfo(
                reader.GetInt64(0), reader.GetInt64(1), reader.GetString(2), reader.GetString(3),
                reader.GetFieldValue<DateTimeOffset>(4), reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5)));
        }

        return keys;
    }
}
