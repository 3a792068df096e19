using InvexQr.IntegrationTests.Infrastructure;
using InvexQr.Data;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace InvexQr.IntegrationTests.Database;

[Collection(PostgresCollection.Name)]
public sealed class MigrationTests(PostgresServer postgres)
{
    [Fact]
    public async Task Migrations_apply_once_and_rerunning_them_is_harmless()
    {
        await using var dataSource = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync("migrate"));
        var runner = new MigrationRunner(dataSource, NullLogger<MigrationRunner>.Instance);

        var first = await runner.ApplyAsync();
        var second = await runner.ApplyAsync();

        Assert.Equal(MigrationRunner.Embedded().Count, first);
        Assert.Equal(0, second);
        await using var count = dataSource.CreateCommand("SELECT count(*) FROM invexqr_schema_migrations");
        Assert.Equal((long)first, (long)(await count.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task Concurrent_runners_take_turns()
    {
        await using var dataSource = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync("migrate"));
        var runners = Enumerable.Range(0, 3).Select(_ => new MigrationRunner(dataSource, NullLogger<MigrationRunner>.Instance).ApplyAsync());

        var applied = await Task.WhenAll(runners);

        Assert.Equal(MigrationRunner.Embedded().Count, applied.Sum());
    }

    [Fact]
    public async Task An_applied_migration_that_was_edited_stops_start_up()
    {
        await using var dataSource = NpgsqlDataSource.Create(await postgres.CreateDatabaseAsync("migrate"));
        var runner = new MigrationRunner(dataSource, NullLogger<MigrationRunner>.Instance);
        await runner.ApplyAsync();
        await using (var tamper = dataSource.CreateCommand("UPDATE invexqr_schema_migrations SET checksum = 'edited' WHERE version = 3"))
        {
            await tamper.ExecuteNonQueryAsync();
        }

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => runner.ApplyAsync());
        Assert.Contains("changed after it was applied", error.Message);
    }

    [Fact]
    public async Task Scans_are_partitioned_by_month_with_partitions_ahead()
    {
        await using var dataSource = await postgres.CreateMigratedDataSourceAsync("migrate");

        await using var command = dataSource.CreateCommand("""
            SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'qr_scans'::regclass AND c.relname ~ '^qr_scans_[0-9]{4}_[0-9]{2}$'
            """);
        Assert.Equal(5L, (long)(await command.ExecuteScalarAsync())!); // last month .. three ahead
    }
}
