using InvexQr.Grains.Abstractions;
using InvexQr.Grains.Codes;
using Npgsql;

namespace InvexQr.Silo.Database;

/// <summary>All SQL on <c>qr_codes</c>.</summary>
public sealed class CodeRepository(NpgsqlDataSource dataSource) : ICodeRepository
{
    private const string Columns = "id, code, target_url, title, status, created_at, updated_at, owner_id";

    public async Task<CodeRecord?> FindAsync(string code, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM qr_codes WHERE code = $1");
        command.Parameters.Add(new() { Value = code });
        return await ReadSingleAsync(command, cancellationToken);
    }

    public async Task<bool> ExistsAsync(string code, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM qr_codes WHERE code = $1)");
        command.Parameters.Add(new() { Value = code });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<CodeRecord?> InsertAsync(string code, CreateCodeCommand create, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand($"""
            INSERT INTO qr_codes (code, target_url, title, owner_id)
            VALUES ($1, $2, $3, $4)
            ON CONFLICT (code) DO NOTHING
            RETURNING {Columns}
            """);
        command.Parameters.Add(new() { Value = code });
        command.Parameters.Add(new() { Value = create.TargetUrl });
        command.Parameters.Add(new() { Value = (object?)create.Title ?? DBNull.Value });
        command.Parameters.Add(new() { Value = (object?)create.OwnerId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
        return await ReadSingleAsync(command, cancellationToken);
    }

    public async Task<CodeRecord?> UpdateAsync(string code, UpdateCodeCommand update, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand($"""
            UPDATE qr_codes
               SET target_url = COALESCE($2, target_url),
                   title      = COALESCE($3, title),
                   status     = COALESCE($4, status),
                   updated_at = now()
             WHERE code = $1
            RETURNING {Columns}
            """);
        command.Parameters.Add(new() { Value = code });
        command.Parameters.Add(new() { Value = (object?)update.TargetUrl ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)update.Title ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        var status = update.Enabled switch { true => "active", false => "disabled", null => null };
        command.Parameters.Add(new() { Value = (object?)status ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        return await ReadSingleAsync(command, cancellationToken);
    }

    public async Task<bool> DeleteAsync(string code, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            WITH gone AS (DELETE FROM qr_codes WHERE code = $1 RETURNING id),
                 scans AS (DELETE FROM qr_scans WHERE qr_code_id IN (SELECT id FROM gone))
            SELECT count(*) FROM gone
            """, connection, transaction);
        command.Parameters.Add(new() { Value = code });
        var deleted = (long)(await command.ExecuteScalarAsync(cancellationToken))! > 0;
        await transaction.CommitAsync(cancellationToken);
        return deleted;
    }

    public async Task<CodePage> ListAsync(long ownerId, CodeListQuery query, CancellationToken cancellationToken = default)
    {
        // Keyset pagination on (created_at, id) DESC, served by qr_codes_owner_created.
        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns} FROM qr_codes
             WHERE owner_id = $1
               AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::bigint))
               AND ($4::text IS NULL OR code ILIKE $4 OR title ILIKE $4 OR target_url ILIKE $4)
             ORDER BY created_at DESC, id DESC
             LIMIT $5
            """);
        command.Parameters.Add(new() { Value = ownerId });
        command.Parameters.Add(new() { Value = (object?)query.AfterCreatedAt ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = (object?)query.AfterId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
        var pattern = string.IsNullOrEmpty(query.Search) ? null : "%" + EscapeLike(query.Search) + "%";
        command.Parameters.Add(new() { Value = (object?)pattern ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = query.Limit + 1 });

        var items = new List<CodeSummary>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var record = Read(reader);
            items.Add(new CodeSummary(record.Id, record.Code, record.TargetUrl, record.Title, record.Status, record.CreatedAt, record.UpdatedAt));
        }

        var hasMore = items.Count > query.Limit;
        return new CodePage(hasMore ? items[..query.Limit] : items, hasMore);
    }

    private static string EscapeLike(string text) => text.Replace(@"\", @"\\").Replace("%", @"\%").Replace("_", @"\_");

    private static async Task<CodeRecord?> ReadSingleAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    private static CodeRecord Read(NpgsqlDataReader reader)
    {
        return new CodeRecord(
            Id: reader.GetInt64(0),
            Code: reader.GetString(1),
            TargetUrl: reader.GetString(2),
            Title: reader.IsDBNull(3) ? null : reader.GetString(3),
            Status: reader.GetString(4) == "disabled" ? CodeStatus.Disabled : CodeStatus.Active,
            CreatedAt: reader.GetFieldValue<DateTimeOffset>(5),
            UpdatedAt: reader.GetFieldValue<DateTimeOffset>(6),
            OwnerId: reader.IsDBNull(7) ? null : reader.GetInt64(7));
    }
}
