using Npgsql;

namespace InvexQr.Data;

/// <summary>The SQL of an owner's fallback URL (<c>owners.fallback_url</c>): where their codes send scans instead of the 410 page.</summary>
public sealed class OwnerFallbacks(NpgsqlDataSource dataSource)
{
    public async Task<string?> GetAsync(long ownerId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT fallback_url FROM owners WHERE id = $1");
        command.Parameters.Add(new() { Value = ownerId });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    /// <summary>Sets (or with null removes) the owner's fallback URL.</summary>
    public async Task SetAsync(long ownerId, string? url, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("UPDATE owners SET fallback_url = $2 WHERE id = $1");
        command.Parameters.Add(new() { Value = ownerId });
        command.Parameters.Add(new() { Value = (object?)url ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
