using System.Collections.Concurrent;
using System.Net.Http.Headers;
using InvexQr.Silo.Hosting;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace InvexQr.IntegrationTests.Infrastructure;

/// <summary>
/// The gateway as <c>./run.sh</c> runs it, a gateway that co-hosts its silo, started inside the test process
/// (<see cref="WebApplicationFactory{TEntryPoint}"/> on real Kestrel, loopback, a free port) on a database of its own
/// in the shared test PostgreSQL. Everything below HTTP is real: Orleans with its ADO.NET clustering and grain storage,
/// the scan and rollup sinks, the migrations, the cluster's mutual TLS. One host serves a whole test class (<see cref="IClassFixture{TFixture}"/>).
/// </summary>
public sealed class GatewayHost : IAsyncDisposable
{
    public const string ApiKey = Deployment.ApiKey;

    private readonly Factory _factory;
    private readonly string _spool;

    private GatewayHost(Factory factory, string connectionString, string clusterId, string spool)
    {
        _factory = factory;
        ConnectionString = connectionString;
        ClusterId = clusterId;
        _spool = spool;
    }

    public string ConnectionString { get; }

    public string ClusterId { get; }

    public Uri BaseAddress { get; private set; } = null!;

    public IServiceProvider Services => _factory.Services;

    /// <summary>An HTTP client that does not follow redirects and carries the admin key.</summary>
    public HttpClient Http { get; private set; } = null!;

    /// <summary>What the host logged (Information and up), as "level: category: message" lines.</summary>
    public string Logs => string.Join('\n', _factory.Log);

    /// <param name="settings">Configuration on top of the defaults (keys as in appsettings, e.g. <c>Throttle:Burst</c>).</param>
    /// <param name="joining">Another host whose database and cluster this one joins (a second gateway of one deployment).</param>
    public static async Task<GatewayHost> StartAsync(
        PostgresServer postgres, IDictionary<string, string?>? settings = null, GatewayHost? joining = null)
    {
        var connectionString = joining?.ConnectionString ?? await postgres.CreateDatabaseAsync("gw");
        var clusterId = joining?.ClusterId ?? "test-" + Guid.NewGuid().ToString("N")[..8];
        var spool = Path.Combine(Path.GetTempPath(), "invexqr-test-spool-" + Guid.NewGuid().ToString("N")[..8]);
        var data = Path.Combine(Repo.Root, ".data", "npm", "node_modules");
        var configuration = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = connectionString,
            ["Gateway:CoHostSilo"] = "true",
            ["Orleans:ClusterId"] = clusterId,
            ["Orleans:ServiceId"] = "invexqr-tests",
            ["Orleans:SiloPort"] = Shell.FreePort().ToString(),
            ["Orleans:GatewayPort"] = Shell.FreePort().ToString(),
            ["Orleans:SiloName"] = "cohost-" + Guid.NewGuid().ToString("N")[..6],
            ["Auth:ApiKey"] = ApiKey,
            ["Gateway:PublicBaseUrl"] = "https://qr.example.com",
            ["ScanSink:SpoolDirectory"] = spool,
            ["Geo:DatabasePath"] = Path.Combine(Repo.Root, ".data", "geo", "GeoLite2-City.mmdb"),
            ["UserAgents:RegexesPath"] = Path.Combine(data, "uap-core", "regexes.yaml"),
            ["Docs:SwaggerUiPath"] = Path.Combine(data, "swagger-ui-dist"),
            ["ShutdownTimeoutSeconds"] = "30",
            // Tests scan one code thousands of times from loopback; the throttling tests set realistic limits.
            ["Throttle:Burst"] = "1000000",
            ["Throttle:PerMinute"] = "1000000",
        };
        // Its silo's Orleans ports run the cluster's mutual TLS, as in every deployment.
        foreach (var (key, value) in ClusterCertificates.Cluster.SiloSettings())
        {
            configuration[key] = value;
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            configuration[key] = value;
        }

        var factory = new Factory(configuration);
        factory.UseKestrel(0);
        var host = new GatewayHost(factory, connectionString, clusterId, spool);
        await Task.Run(factory.StartServer);
        host.BaseAddress = factory.ClientOptions.BaseAddress;
        host.Http = host.CreateClient(ApiKey);
        return host;
    }

    /// <summary>A client of this host that does not follow redirects, with <paramref name="apiKey"/> as bearer when given.</summary>
    public HttpClient CreateClient(string? apiKey = null)
    {
        var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false, MaxConnectionsPerServer = 256 })
        {
            BaseAddress = BaseAddress,
            Timeout = TimeSpan.FromSeconds(30),
        };
        if (apiKey is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        return http;
    }

    public T Get<T>()
        where T : notnull => Services.GetRequiredService<T>();

    public async Task<long> ScalarAsync(string sql, params object[] parameters)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    /// <summary>
    /// Waits until the scan sink has settled every scan it had accepted when called (written or rejected, and its spool
    /// replayed), then writes the rollups: after it, <c>qr_scans</c> and the rollup tables hold every scan answered before the call.
    /// </summary>
    public async Task FlushAsync(TimeSpan? timeout = null)
    {
        var sink = Get<ScanSink>();
        var accepted = sink.Accepted;
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (sink.Handled < accepted || sink.Spooled > 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The scan sink settled {sink.Handled} of {accepted} scans in time; {sink.Spooled} still spooled");
            }

            await Polling.Pause(20);
        }

        // The rollup sink may be between two attempts of a write PostgreSQL refused a moment ago.
        var rollups = Get<RollupSink>();
        while (!await rollups.FlushAsync(CancellationToken.None))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The rollup sink could not write in time");
            }

            await Polling.Pause(100);
        }
    }

    /// <summary>The raw scans stored for <paramref name="code"/> once the sinks have settled what they hold.</summary>
    public async Task<long> WaitForScanRowsAsync(string code)
    {
        await FlushAsync();
        return await ScanRowsAsync(code);
    }

    public Task<long> ScanRowsAsync(string code) => ScalarAsync(
        "SELECT count(*) FROM qr_scans s JOIN qr_codes c ON c.id = s.qr_code_id WHERE c.code = $1", code);

    /// <summary>Runs an operator command of the silo (<c>rollups reconcile …</c>) against this host's database, in process.</summary>
    public async Task<(int ExitCode, string Output)> RunSiloCommandAsync(params string[] args)
    {
        using var output = new StringWriter();
        var exit = await SiloCommands.RunAsync(args, Services, output);
        return (exit, output.ToString());
    }

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        await _factory.DisposeAsync();
        try
        {
            Directory.Delete(_spool, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private sealed class Factory(Dictionary<string, string?> configuration) : WebApplicationFactory<InvexQr.Gateway.GatewayOptions>
    {
        public ConcurrentQueue<string> Log { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            foreach (var (key, value) in configuration)
            {
                builder.UseSetting(key, value);
            }

            builder.UseEnvironment("Production");
            builder.ConfigureLogging(logging => logging.AddProvider(new CapturingLoggerProvider(Log)));
        }
    }

    private sealed class CapturingLoggerProvider(ConcurrentQueue<string> log) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new CapturingLogger(categoryName, log);

        public void Dispose()
        {
        }
    }

    private sealed class CapturingLogger(string category, ConcurrentQueue<string> log) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            log.Enqueue($"{logLevel}: {category}: {formatter(state, exception)}{(exception is null ? string.Empty : "\n" + exception)}");
            while (log.Count > 5000 && log.TryDequeue(out _))
            {
            }
        }
    }
}

/// <summary>
/// One <see cref="GatewayHost"/> for a whole test class, started by the class's first test (it needs the shared
/// PostgreSQL of the collection, which xunit hands to test classes, not to class fixtures) and stopped after its last.
/// </summary>
public sealed class SharedGatewayHost : IAsyncLifetime
{
    private Task<GatewayHost>? _host;

    public Task<GatewayHost> GetAsync(PostgresServer postgres, IDictionary<string, string?>? settings = null) =>
        _host ??= GatewayHost.StartAsync(postgres, settings);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await (await _host).DisposeAsync();
        }
    }
}
