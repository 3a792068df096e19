using Npgsql;

namespace InvexQr.IntegrationTests.Infrastructure;

/// <summary>
/// A real, throwaway PostgreSQL: a fresh cluster in a temporary directory on a free loopback port,
/// started once for the whole test run (through <c>scripts/pg.sh</c>, the same script
/// <c>./run.sh</c> uses) and deleted at the end. Each test gets a database of its own.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "invexqr-test-pg-" + Guid.NewGuid().ToString("N")[..8]);
    private int _databases;

    public int Port { get; private set; }

    public string AdminConnectionString => Connection("postgres");

    public async Task InitializeAsync()
    {
        var script = Repo.ScriptPath("pg.sh");
        await Shell.RunAsync("bash", script, "install");
        await Shell.RunAsync("bash", script, "init", _dataDir);
        Port = Shell.FreePort();
        await Shell.RunAsync("bash", script, "start", _dataDir, Port.ToString());
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await Shell.RunAsync("bash", Repo.ScriptPath("pg.sh"), "stop", _dataDir);
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
            // best effort: it lives in the temp directory anyway
        }
    }

    /// <summary>Stops the server (fast shutdown: open connections are cut), keeping its data and port.</summary>
    public Task StopAsync() => Shell.RunAsync("bash", Repo.ScriptPath("pg.sh"), "stop", _dataDir);

    /// <summary>Starts it again on the same port; pooled connections to the stopped server are dropped.</summary>
    public async Task StartAsync()
    {
        await Shell.RunAsync("bash", Repo.ScriptPath("pg.sh"), "start", _dataDir, Port.ToString());
        NpgsqlConnection.ClearAllPools();
    }

    /// <summary>
    /// Declared after the hosts of a test that stops the server (<c>await using var _ = postgres.RunningAgainOnExit();</c>),
    /// it starts the server again before they stop, even when the test failed while it was down.
    /// </summary>
    public IAsyncDisposable RunningAgainOnExit() => new OnExit(EnsureStartedAsync);

    private sealed class OnExit(Func<Task> action) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await action();
    }

    /// <summary>Starts it again unless it is running (after a test that stopped it failed half-way).</summary>
    public async Task EnsureStartedAsync()
    {
        if (!File.Exists(Path.Combine(_dataDir, "postmaster.pid")))
        {
            await StartAsync();
        }
    }

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix = "t")
    {
        var name = $"{prefix}_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid().ToString("N")[..6]}".ToLowerInvariant();
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return Connection(name);
    }

    /// <summary>A new database with every migration applied, as a data source.</summary>
    public async Task<NpgsqlDataSource> CreateMigratedDataSourceAsync(string prefix = "t")
    {
        var dataSource = NpgsqlDataSource.Create(await CreateDatabaseAsync(prefix));
        await new InvexQr.Data.MigrationRunner(dataSource, Microsoft.Extensions.Logging.Abstractions.NullLogger<InvexQr.Data.MigrationRunner>.Instance).ApplyAsync();
        return dataSource;
    }

    private string Connection(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = "invexqr",
        Database = database,
        Pooling = true,
        MaxPoolSize = 20,
    }.ConnectionString;
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "postgres";
}

/// <summary>
/// The tests that start real silo and gateway processes, on a PostgreSQL server of their own. They mostly wait (for
/// processes to start, a failover, a drain), so they run beside the in-process tests, one at a time among themselves.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ProcessesCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "processes";
}

/// <summary>
/// The rolling-change test alone (ten processes, minutes of load): beside the other process tests rather than after
/// them, on a PostgreSQL server of its own.
/// </summary>
[CollectionDefinition(Name)]
public sealed class RollingCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "rolling";
}
