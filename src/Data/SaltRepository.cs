using System.Security.Cryptography;
using Npgsql;

namespace InvexQr.Data;

/// <summary>All SQL on <c>privacy_salts</c>: one random secret per UTC day, shared by every silo.</summary>
public sealed class SaltRepository(NpgsqlDataSource dataSource)
{
    /// <summary>The salt of <paramref name="day"/>; the first silo to ask creates it.</summary>
    public async Task<byte[]> GetOrCreateAsync(DateOnly day, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            WITH made AS (
                INSERT INTO privacy_salts (day, salt) VALUES ($1, $2)
                ON CONFLICT (day) DO NOTHING
                RETURNING salt)
            SELECT salt FROM made
            UNION ALL
            SELECT salt FROM privacy_salts WHERE day = $1
            LIMIT 1
            """);
        command.Parameters.Add(new() { Value = day });
        command.Parameters.Add(new() { Value = RandomNumberGenerator.GetBytes(32) });
        return (byte[])(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Deletes the salts of days before <paramref name="keepFrom"/>: their hashes become unlinkable.</summary>
    public async Task<int> DeleteBeforeAsync(DateOnly keepFrom, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM privacy_salts WHERE day < $1");
        command.Parameters.Add(new() { Value = keepFrom });
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
