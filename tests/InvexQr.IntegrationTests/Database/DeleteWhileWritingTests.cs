using InvexQr.Abstractions;
using InvexQr.Grains.Analytics;
using InvexQr.Grains.Codes;
using InvexQr.Grains.Scans;
using InvexQr.IntegrationTests.Infrastructure;
using InvexQr.Data;
using Npgsql;

namespace InvexQr.IntegrationTests.Database;

/// <summary>
/// Deleting a code while its scans and stats are being written leaves no row behind (CodeRepository.DeleteAsync).
/// Each test holds a transaction open by hand to force an interleaving that used to leave orphans.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class DeleteWhileWritingTests(PostgresServer postgres)
{
    private static readonly string[] ChildTables = ["qr_scans", "qr_rollup_hourly", "qr_rollup_dims_hourly", "qr_rollup_dims_daily", "qr_rollup_visitor_registers"];

    [Fact]
    public async Task A_delete_waits_for_a_batch_that_checked_the_code_before_it_and_removes_its_rows_too()
    {
        await using var dataSource = await postgres.CreateMigratedDataSourceAsync("delete");
        var (codes, code) = await CreateCodeAsync(dataSource, "held");

        // A writer in the middle of its transaction: it found the code and inserted, and has not committed yet.
        await using var writing = await dataSource.OpenConnectionAsync();
        await using var transaction = await writing.BeginTransactionAsync();
        await Execute(writing, transaction,
            $"INSERT INTO qr_scans (id, qr_code_id, scanned_at) VALUES ('{Guid.CreateVersion7()}', {code.Id}, now())");

        var delete = codes.DeleteAsync("held");
        await WaitUntilWaitingForLocksAsync(dataSource, 1);
        Assert.False(delete.IsCompleted, "the delete must wait for the writer");

        await transaction.CommitAsync();
        Assert.True(await delete.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0L, await Count(dataSource, $"SELECT count(*) FROM qr_scans WHERE qr_code_id = {code.Id}"));
    }

    [Fact]
    public async Task Batches_that_arrive_while_a_delete_is_finishing_wait_for_it_and_then_store_nothing()
    {
        await using var dataSource = await postgres.CreateMigratedDataSourceAsync("delete");
        var (codes, code) = await CreateCodeAsync(dataSource, "going");

        // Another writer busy on the last child table keeps the delete in its second pass, holding the others.
        await using var busy = await dataSource.OpenConnectionAsync();
        await using var transaction = await busy.BeginTransactionAsync();
        await Execute(busy, transaction, "LOCK TABLE qr_rollup_visitor_registers IN ROW EXCLUSIVE MODE");
        var delete = codes.DeleteAsync("going");
        await WaitUntilWaitingForLocksAsync(dataSource, 1);
        Assert.False(delete.IsCompleted);

        // The real writers, with a batch for the code being deleted.
        var now = DateTimeOffset.UtcNow;
        await using var writer = new ScanWriter(dataSource);
        var scans = writer.WriteAsync([new ScanRecord(Guid.CreateVersion7(now), code.Id, now, "203.0.113.0", "ua", null)], CancellationToken.None);
        var hour = new HourDelta(new DateTimeOffset(now.UtcTicks - now.UtcTicks % TimeSpan.TicksPerHour, TimeSpan.Zero));
        hour.Counts.Scans = hour.Counts.Humans = 1;
        hour.Count(new DimKey(Dimensions.Country, "GB"), 1);
        var rollups = new RollupRepository(dataSource).WriteAsync(
            Guid.NewGuid(), [(code.Id, hour)], [(code.Id, new VisitorRegister(DateOnly.FromDateTime(now.UtcDateTime), 7, 3))], CancellationToken.None);
        await WaitUntilWaitingForLocksAsync(dataSource, 3); // the delete and both writers
        Assert.False(scans.IsCompleted, "the scan writer must wait for the delete, not insert under it");
        Assert.False(rollups.IsCompleted, "the rollup writer must wait for the delete, not insert under it");

        await transaction.CommitAsync();
        Assert.True(await delete.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, await scans.WaitAsync(TimeSpan.FromSeconds(10)));
        await rollups.WaitAsync(TimeSpan.FromSeconds(10));
        foreach (var table in ChildTables)
        {
            Assert.Equal(0L, await Count(dataSource, $"SELECT count(*) FROM {table} WHERE qr_code_id = {code.Id}"));
        }
    }

    private static async Task<(CodeRepository Codes, CodeRecord Code)> CreateCodeAsync(NpgsqlDataSource dataSource, string name)
    {
        var codes = new CodeRepository(dataSource);
        return (codes, (await codes.InsertAsync(name, new CreateCodeCommand("https://example.org/", null, null)))!);
    }

    /// <summary>Waits until <paramref name="sessions"/> sessions of this database wait for a lock (at most 10 s).</summary>
    private static async Task WaitUntilWaitingForLocksAsync(NpgsqlDataSource dataSource, int sessions)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        long waiting;
        while ((waiting = await Count(dataSource,
                   "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")) < sessions
               && DateTime.UtcNow < deadline && await Polling.Pause(20))
        {
        }

        Assert.True(waiting >= sessions, $"{waiting} sessions wait for a lock, expected {sessions}");
    }

    private static async Task Execute(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> Count(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
