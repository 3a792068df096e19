using System.Net.Http.Headers;
using Npgsql;

namespace InvexQr.IntegrationTests.Infrastructure;

/// <summary>
/// A whole InvexQR deployment on this machine: silos and a gateway as real processes, on their own
/// database of the shared test PostgreSQL, with their own cluster id and free ports.
/// </summary>
public sealed class Deployment : IAsyncDisposable
{
    public const string ApiKey = "test-admin-key-0123456789";

    private readonly List<ServiceProcess> _silos = [];
    private readonly List<ServiceProcess> _extraGateways = [];
    private readonly string _clusterId = "test-" + Guid.NewGuid().ToString("N")[..8];

    private Deployment(string connectionString) => ConnectionString = connectionString;

    public string ConnectionString { get; }

    public ServiceProcess Gateway { get; private set; } = null!;

    public IReadOnlyList<ServiceProcess> Silos => _silos;

    /// <summary>An HTTP client for the gateway that does not follow redirects and carries the API key.</summary>
    public HttpClient Http { get; private set; } = null!;

    public static async Task<Deployment> StartAsync(
        PostgresServer postgres, int silos = 1, IDictionary<string, string>? siloSettings = null, IDictionary<string, string>? gatewaySettings = null)
    {
        var deployment = new Deployment(await postgres.CreateDatabaseAsync("e2e"));
        for (var i = 0; i < silos; i++)
        {
            await deployment.StartSiloAsync(siloSettings);
        }

        var gatewayEnvironment = deployment.CommonEnvironment();
        foreach (var (key, value) in gatewaySettings ?? new Dictionary<string, string>())
        {
            gatewayEnvironment[key] = value;
        }

        deployment.Gateway = ServiceProcess.Start("gateway", "Gateway", Shell.FreePort(), gatewayEnvironment);
        await deployment.Gateway.WaitReadyAsync();
        deployment.Http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, MaxConnectionsPerServer = 256 })
        {
            BaseAddress = deployment.Gateway.BaseAddress,
            Timeout = TimeSpan.FromSeconds(30),
        };
        deployment.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
        return deployment;
    }

    /// <summary>Starts one more silo process and waits until it is ready.</summary>
    public async Task<ServiceProcess> StartSiloAsync(IDictionary<string, string>? settings = null)
    {
        var environment = CommonEnvironment();
        environment["Orleans__SiloPort"] = Shell.FreePort().ToString();
        environment["Orleans__GatewayPort"] = Shell.FreePort().ToString();
        environment["Orleans__SiloName"] = $"silo-{_silos.Count}-{Guid.NewGuid().ToString("N")[..4]}";
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        var silo = ServiceProcess.Start($"silo{_silos.Count}", "Silo", Shell.FreePort(), environment);
        _silos.Add(silo);
        await silo.WaitReadyAsync();
        return silo;
    }

    /// <summary>Runs an operator command of the silo binary (<c>rollups reconcile</c>, …) against this deployment's database.</summary>
    public async Task<(int ExitCode, string Output)> RunSiloCommandAsync(params string[] args)
    {
        var environment = CommonEnvironment();
        environment["Orleans__SiloPort"] = Shell.FreePort().ToString();
        environment["Orleans__GatewayPort"] = Shell.FreePort().ToString();
        return await ServiceProcess.RunToExitAsync("Silo", environment, args);
    }

    /// <summary>
    /// <c>rollups reconcile</c> over today (UTC), asked again while it finds differences: the silos hand their
    /// counters to the rollup sink every second and it writes every 2 s, so rollups trail the raw scans by a few seconds.
    /// </summary>
    public async Task<(int ExitCode, string Output)> ReconcileTodayAsync(int attempts = 6)
    {
        (int ExitCode, string Output) result;
        var attempt = 0;
        do
        {
            if (attempt++ > 0)
            {
                await Task.Delay(1500);
            }

            result = await RunSiloCommandAsync("rollups", "reconcile", "--from", Today(0), "--to", Today(1));
        }
        while (result.ExitCode != 0 && attempt < attempts);
        return result;
    }

    /// <summary><c>rollups rebuild</c> over today (UTC): the recovery after a crash lost a silo's last seconds of rollups.</summary>
    public Task<(int ExitCode, string Output)> RebuildTodayAsync() =>
        RunSiloCommandAsync("rollups", "rebuild", "--from", Today(0), "--to", Today(1));

    private static string Today(int plusDays) =>
        DateTime.UtcNow.Date.AddDays(plusDays).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

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

    /// <summary>Polls until the number of raw scans stored for the code reaches <paramref name="expected"/> (or the time is up); returns the last count.</summary>
    public async Task<long> WaitForScanRowsAsync(string code, long expected, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        long count;
        do
        {
            count = await ScanRowsAsync(code);
            if (count >= expected)
            {
                // Wait one more flush period and count again: more rows than expected must show up too.
                await Task.Delay(500);
                return await ScanRowsAsync(code);
            }

            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);
        return count;
    }

    public Task<long> ScanRowsAsync(string code) => ScalarAsync(
        "SELECT count(*) FROM qr_scans s JOIN qr_codes c ON c.id = s.qr_code_id WHERE c.code = $1", code);

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }

        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

        foreach (var gateway in _extraGateways)
        {
            await gateway.DisposeAsync();
        }
    }

    /// <summary>One more gateway process on the same cluster and database (as behind a load balancer).</summary>
    public async Task<ServiceProcess> StartExtraGatewayAsync()
    {
        var gateway = ServiceProcess.Start($"gateway{_extraGateways.Count + 1}", "Gateway", Shell.FreePort(), CommonEnvironment());
        _extraGateways.Add(gateway);
        await gateway.WaitReadyAsync();
        return gateway;
    }

    private Dictionary<string, string> CommonEnvironment() => new()
    {
        ["ConnectionStrings__Postgres"] = ConnectionString,
        ["Orleans__ClusterId"] = _clusterId,
        ["Orleans__ServiceId"] = "invexqr-tests",
        ["Auth__ApiKey"] = ApiKey,
        ["Gateway__PublicBaseUrl"] = "https://qr.example.com",
        ["ShutdownTimeoutSeconds"] = "30",
        // Load tests scan one code thousands of times from one loopback address; the throttling
        // tests pass realistic limits in their silo settings.
        ["Throttle__Burst"] = "1000000",
        ["Throttle__PerMinute"] = "1000000",
    };
}
