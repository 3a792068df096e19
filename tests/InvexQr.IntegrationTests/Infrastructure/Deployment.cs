using System.Net.Http.Headers;
using InvexQr.Silo.Hosting;
using Npgsql;

namespace InvexQr.IntegrationTests.Infrastructure;

/// <summary>
/// A whole InvexQR deployment on this machine: silos and a gateway as real processes, on their own
/// database of the shared test PostgreSQL, with their own cluster id and free ports, and the cluster's mutual TLS
/// (<see cref="ClusterCertificates"/>) between them.
/// </summary>
public sealed class Deployment : IAsyncDisposable
{
    /// <summary>The admin key; strong enough for the processes' start-up check (ServiceDefaults/AdminKeyPolicy).</summary>
    public const string ApiKey = "test-admin-key-0123456789";

    private readonly List<ServiceProcess> _silos = [];
    private readonly List<ServiceProcess> _extraGateways = [];
    private readonly string _clusterId = "test-" + Guid.NewGuid().ToString("N")[..8];
    private bool _coHosted; // the gateway is a silo too (Gateway__CoHostSilo)

    private Deployment(string connectionString) => ConnectionString = connectionString;

    public string ConnectionString { get; }

    /// <summary>The Orleans cluster id the processes share (with the membership table, what an Orleans client needs to find them).</summary>
    public string ClusterId => _clusterId;

    public ServiceProcess Gateway { get; private set; } = null!;

    public IReadOnlyList<ServiceProcess> Silos => _silos;

    /// <summary>The first gateway and every one started since, running or not.</summary>
    public IEnumerable<ServiceProcess> Gateways => _extraGateways.Prepend(Gateway);

    /// <summary>An HTTP client for the gateway that does not follow redirects and carries the API key.</summary>
    public HttpClient Http { get; private set; } = null!;

    public static async Task<Deployment> StartAsync(
        PostgresServer postgres, int silos = 1, IDictionary<string, string>? siloSettings = null, IDictionary<string, string>? gatewaySettings = null)
    {
        var deployment = new Deployment(await postgres.CreateDatabaseAsync("e2e"));
        try
        {
            return await deployment.StartProcessesAsync(silos, siloSettings, gatewaySettings);
        }
        catch
        {
            await deployment.DisposeAsync(); // the processes already started must not outlive a failed start
            throw;
        }
    }

    private async Task<Deployment> StartProcessesAsync(int silos, IDictionary<string, string>? siloSettings, IDictionary<string, string>? gatewaySettings)
    {
        var deployment = this;
        // The first silo applies the migrations; the others and the gateway then start side by side.
        if (silos > 0)
        {
            await deployment.StartSiloAsync(siloSettings);
        }

        var starting = Enumerable.Range(1, Math.Max(0, silos - 1)).Select(_ => deployment.StartSiloAsync(siloSettings)).ToList();

        var gatewayEnvironment = deployment.CommonEnvironment();
        foreach (var (key, value) in gatewaySettings ?? new Dictionary<string, string>())
        {
            gatewayEnvironment[key] = value;
        }

        deployment._coHosted = gatewayEnvironment.TryGetValue("Gateway__CoHostSilo", out var coHost) && coHost == "true";
        foreach (var (key, value) in ClusterCertificates.AsEnvironment(
                     deployment._coHosted ? ClusterCertificates.Cluster.SiloSettings() : ClusterCertificates.Cluster.GatewaySettings()))
        {
            gatewayEnvironment.TryAdd(key, value);
        }

        deployment.Gateway = ServiceProcess.Start("gateway", "Gateway", Shell.FreePort(), gatewayEnvironment);
        await Task.WhenAll(starting.Cast<Task>().Append(deployment.Gateway.WaitReadyAsync()));
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
        foreach (var (key, value) in ClusterCertificates.AsEnvironment(ClusterCertificates.Cluster.SiloSettings()))
        {
            environment[key] = value;
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        var silo = ServiceProcess.Start($"silo{_silos.Count}", "Silo", Shell.FreePort(), environment);
        _silos.Add(silo);
        await silo.WaitReadyAsync();
        return silo;
    }

    /// <summary>
    /// Runs an operator command (<c>rollups reconcile</c>, …) against this deployment's database, in this process: the
    /// commands only talk to PostgreSQL (the binary's own command line is tested in Http/RetentionTests).
    /// </summary>
    public async Task<(int ExitCode, string Output)> RunSiloCommandAsync(params string[] args)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Configuration["ConnectionStrings:Postgres"] = ConnectionString;
        builder.AddInvexQrDatabase();
        using var host = builder.Build();
        using var output = new StringWriter();
        var exit = await SiloCommands.RunAsync(args, host.Services, output);
        return (exit, output.ToString());
    }

    /// <summary>
    /// <c>rollups reconcile</c> over today (UTC), asked again while it finds differences: the silos' rollup sinks write
    /// every 2 s, so rollups trail the raw scans by a few seconds.
    /// </summary>
    public async Task<(int ExitCode, string Output)> ReconcileTodayAsync(int attempts = 6)
    {
        (int ExitCode, string Output) result;
        var attempt = 0;
        do
        {
            result = await RunSiloCommandAsync("rollups", "reconcile", "--from", Today(0), "--to", Today(1));
        }
        while (result.ExitCode != 0 && ++attempt < attempts && await Polling.Pause(1500));
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

    /// <summary>
    /// The raw scans stored for the code once every running silo's scan sink has settled what it accepted (its
    /// <c>invexqr_scan_sink_queue_depth</c> and spool are 0) and at least <paramref name="expected"/> rows are there,
    /// or the time is up: more rows than expected show up too.
    /// </summary>
    public async Task<long> WaitForScanRowsAsync(string code, long expected, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        long count;
        while (((count = await ScanRowsAsync(code)) < expected || !await SinksSettledAsync()) && DateTime.UtcNow < deadline && await Polling.Pause(100))
        {
        }

        return await ScanRowsAsync(code);
    }

    /// <summary>True when no running silo holds a scan it has not written (queued, in a batch, or spooled).</summary>
    public async Task<bool> SinksSettledAsync()
    {
        foreach (var silo in _silos.Append(_coHosted ? Gateway : null).OfType<ServiceProcess>().Where(s => !s.HasExited))
        {
            try
            {
                var metrics = await Prometheus.ScrapeAsync(silo);
                if (Prometheus.Sample(metrics, "invexqr_scan_sink_queue_depth") > 0 || Prometheus.Sample(metrics, "invexqr_scan_spool_scans") > 0)
                {
                    return false;
                }
            }
            catch (HttpRequestException)
            {
                return false; // stopping or starting: ask again
            }
        }

        return true;
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
        var environment = CommonEnvironment();
        foreach (var (key, value) in ClusterCertificates.AsEnvironment(ClusterCertificates.Cluster.GatewaySettings()))
        {
            environment[key] = value;
        }

        var gateway = ServiceProcess.Start($"gateway{_extraGateways.Count + 1}", "Gateway", Shell.FreePort(), environment);
        _extraGateways.Add(gateway);
        await gateway.WaitReadyAsync();
        return gateway;
    }

    private readonly string _sessionSecret = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    private Dictionary<string, string> CommonEnvironment() => new()
    {
        ["ConnectionStrings__Postgres"] = ConnectionString,
        ["Orleans__ClusterId"] = _clusterId,
        ["Orleans__ServiceId"] = "invexqr-tests",
        ["Auth__ApiKey"] = ApiKey,
        ["Auth__SessionSecret"] = _sessionSecret,
        ["Gateway__PublicBaseUrl"] = "https://qr.example.com",
        ["ShutdownTimeoutSeconds"] = "30",
        // A killed silo is declared dead after two missed probes of 2 s instead of three of 5 s: failover tests
        // wait for it.
        ["Orleans__Membership__ProbeTimeout"] = "00:00:02",
        ["Orleans__Membership__NumMissedProbesLimit"] = "2",
        // Load tests scan one code thousands of times from one loopback address; the throttling
        // tests pass realistic limits in their silo settings.
        ["Throttle__Burst"] = "1000000",
        ["Throttle__PerMinute"] = "1000000",
    };
}
