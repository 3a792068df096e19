using Npgsql;

namespace InvexQr.Data;

/// <summary>How many codes an owner has, for the per-owner quota the gateway checks before a create.</summary>
public sealed class OwnerCodeCounts(NpgsqlDataSource dataSource)
{
    public async Task<long> CountAsync(long ownerId, CancellationToken cancellationToken = default)
    {
        // qr_codes_owner_created serves it; a quota is thousands of codes, so this stays an index-only count.
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM qr_codes WHERE owner_id = $1");
        command.Parameters.Add(new() { Value = ownerId });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
