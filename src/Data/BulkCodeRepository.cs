using System.Text.Json;
using InvexQr.Abstractions;
using InvexQr.Grains.Codes;
using Npgsql;
using NpgsqlTypes;

namespace InvexQr.Data;

/// <summary>The SQL of bulk work on <c>qr_codes</c>: an import as one multi-row insert, an edit as one update.</summary>
public sealed class BulkCodeRepository(NpgsqlDataSource dataSource) : IBulkCodeRepository
{
    private const int MaxRounds = 5;

    public async Task<BulkInsertOutcome> InsertManyAsync(
        long ownerId, IReadOnlyList<BulkNewCode> codes, bool atomic, Func<BulkNewCode, string?> replace, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var inserted = new List<BulkCreated>(codes.Count);
        var refused = new List<int>();
        var pending = codes;
        for (var round = 0; round < MaxRounds && pending.Count > 0; round++)
        {
            var stored = await InsertAsync(connection, transaction, ownerId, pending, cancellationToken);
            var retry = new List<BulkNewCode>();
            foreach (var row in pending)
            {
                if (stored.TryGetValue(row.Code, out var code))
                {
                    inserted.Add(new BulkCreated(row.Row, code));
                }
                else if (row.RandomCode && round < MaxRounds - 1 && replace(row) is { } another)
                {
                    retry.Add(row with { Code = another });
                }
                else
                {
                    refused.Add(row.Row);
                }
            }

            pending = retry;
        }

        if (refused.Count > 0)
        {
            await using var erasing = new NpgsqlCommand(
                "SELECT EXISTS (SELECT 1 FROM owners WHERE id = $1 AND erasing_since IS NOT NULL)", connection, transaction);
            erasing.Parameters.Add(new() { Value = ownerId });
            if ((bool)(await erasing.ExecuteScalarAsync(cancellationToken))!)
            {
                throw new OwnerErasingException();
            }

            if (atomic)
            {
                await transaction.RollbackAsync(cancellationToken);
                return new BulkInsertOutcome([], refused, Committed: false);
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return new BulkInsertOutcome(inserted, refused, Committed: true);
    }

    /// <summary>One statement for all the rows; what was inserted, keyed by the code as asked (it is stored as asked).</summary>
    private static async Task<Dictionary<string, string>> InsertAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, long ownerId, IReadOnlyList<BulkNewCode> rows, CancellationToken cancellationToken)
    {
        // Same refusals as CodeRepository.InsertAsync: a slug taken in any case, reserved to another owner (tombstone),
        // or an owner being erased. ON CONFLICT DO NOTHING also skips a row that clashes with another of the batch.
        await using var command = new NpgsqlCommand("""
            INSERT INTO qr_codes (code, target_url, title, owner_id, tags, expires_at, max_scans, throttle_burst, throttle_per_minute, routing)
            SELECT r.code, r.target_url, r.title, $1, ARRAY(SELECT jsonb_array_elements_text(r.tags)), r.expires_at, r.max_scans, r.burst, r.per_minute, r.routing
              FROM unnest($2::text[], $3::text[], $4::text[], $5::jsonb[], $6::timestamptz[], $7::bigint[], $8::int[], $9::int[], $10::jsonb[])
                   AS r(code, target_url, title, tags, expires_at, max_scans, burst, per_minute, routing)
             WHERE NOT EXISTS (SELECT 1 FROM qr_code_tombstones t WHERE t.code_key = lower(r.code) AND t.owner_id IS DISTINCT FROM $1)
               AND NOT EXISTS (SELECT 1 FROM owners o WHERE o.id = $1 AND o.erasing_since IS NOT NULL)
            ON CONFLICT DO NOTHING
            RETURNING code
            """, connection, transaction);
        command.Parameters.Add(new() { Value = ownerId });
        command.Parameters.Add(new() { Value = rows.Select(r => r.Code).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = rows.Select(r => r.Command.TargetUrl).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = rows.Select(r => r.Command.Title).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new()
        {
            Value = rows.Select(r => JsonSerializer.Serialize(r.Command.Tags ?? [])).ToArray(),
            NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb,
        });
        command.Parameters.Add(new()
        {
            Value = rows.Select(r => r.Command.ExpiresAt?.UtcDateTime).ToArray(),
            NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
        });
        command.Parameters.Add(new() { Value = rows.Select(r => r.Command.MaxScans).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        command.Parameters.Add(new() { Value = rows.Select(r => r.Command.ThrottleBurst).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        command.Parameters.Add(new() { Value = rows.Select(r => r.Command.ThrottlePerMinute).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        command.Parameters.Add(new() { Value = rows.Select(r => r.Command.RoutingJson).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
        var stored = new Dictionary<string, string>(rows.Count, StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var code = reader.GetString(0);
            stored[code] = code;
        }

        return stored;
    }

    public async Task<BulkUpdateOutcome> UpdateManyAsync(long ownerId, BulkEditCommand edit, int maxTags, CancellationToken cancellationToken = default)
    {
        // The selected rows are locked in id order (concurrent bulk edits cannot deadlock) and their new tags computed
        // from the locked version: added tags go last, removals and duplicates compare ignoring case, the first spelling stays.
        // A row that would carry more than maxTags is left alone and reported.
        await using var command = dataSource.CreateCommand("""
            WITH selected AS (
                SELECT c.id, c.code, c.tags AS old_tags,
                       CASE WHEN $4::text[] IS NOT NULL THEN $4::text[]
                            ELSE ARRAY(SELECT d.t FROM (SELECT DISTINCT ON (lower(u.t)) u.t, u.o
                                                          FROM unnest(c.tags || $5::text[]) WITH ORDINALITY AS u(t, o)
                                                         WHERE lower(u.t) <> ALL (SELECT lower(x) FROM unnest($6::text[]) AS x)
                                                         ORDER BY lower(u.t), u.o) AS d
                                        ORDER BY d.o) END AS new_tags
                  FROM qr_codes c
                 WHERE c.owner_id = $1
                   AND ($2::text IS NULL OR c.tags @> ARRAY[$2::text])
                   AND ($3::text[] IS NULL OR lower(c.code) = ANY($3::text[]))
                 ORDER BY c.id
                   FOR UPDATE OF c
            ), changed AS (
                UPDATE qr_codes q
                   SET tags = s.new_tags,
                       target_url = COALESCE($7::text, q.target_url),
                       status = COALESCE($8::text, q.status),
                       updated_at = now()
                  FROM selected s
                 WHERE q.id = s.id
                   AND cardinality(s.new_tags) <= $9
                   AND (s.new_tags IS DISTINCT FROM s.old_tags
                        OR q.target_url IS DISTINCT FROM COALESCE($7::text, q.target_url)
                        OR q.status IS DISTINCT FROM COALESCE($8::text, q.status))
                RETURNING q.id
            )
            SELECT s.code, cardinality(s.new_tags) > $9, s.id IN (SELECT id FROM changed) FROM selected s
            """);
        var codes = edit.Filter.Codes?.Select(c => c.ToLowerInvariant()).Distinct().ToArray();
        command.Parameters.Add(new() { Value = ownerId });
        command.Parameters.Add(new() { Value = (object?)edit.Filter.Tag ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)codes ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)edit.SetTags?.ToArray() ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)edit.AddTags?.ToArray() ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)edit.RemoveTags?.ToArray() ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)edit.TargetUrl ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        var status = edit.Enabled switch { true => "active", false => "disabled", null => null };
        command.Parameters.Add(new() { Value = (object?)status ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = maxTags });

        var matched = new List<string>();
        var changed = new List<string>();
        var tooMany = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var code = reader.GetString(0);
                matched.Add(code);
                if (reader.GetBoolean(1))
                {
                    tooMany.Add(code);
                }
                else if (reader.GetBoolean(2))
                {
                    changed.Add(code);
                }
            }
        }

        return new BulkUpdateOutcome(matched.Count, changed, tooMany, NotFound(edit.Filter, matched));
    }

    public async Task<BulkSelection> FindAsync(long ownerId, BulkFilter filter, int limit, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT code FROM qr_codes
             WHERE owner_id = $1
               AND ($2::text IS NULL OR tags @> ARRAY[$2::text])
               AND ($3::text[] IS NULL OR lower(code) = ANY($3::text[]))
             ORDER BY created_at, id
             LIMIT $4
            """);
        command.Parameters.Add(new() { Value = ownerId });
        command.Parameters.Add(new() { Value = (object?)filter.Tag ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new()
        {
            Value = (object?)filter.Codes?.Select(c => c.ToLowerInvariant()).Distinct().ToArray() ?? DBNull.Value,
            NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text,
        });
        command.Parameters.Add(new() { Value = limit });
        var codes = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                codes.Add(reader.GetString(0));
            }
        }

        return new BulkSelection(codes, NotFound(filter, codes));
    }

    private static List<string> NotFound(BulkFilter filter, IReadOnlyList<string> found)
    {
        if (filter.Codes is null)
        {
            return [];
        }

        var seen = new HashSet<string>(found, StringComparer.OrdinalIgnoreCase);
        return [.. filter.Codes.Where(c => !seen.Contains(c)).Distinct(StringComparer.OrdinalIgnoreCase)];
    }
}
