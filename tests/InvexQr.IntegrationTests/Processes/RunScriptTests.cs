using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Processes;

/// <summary>
/// The README's phone line, <c>./run.sh --lan</c>, as a user runs it (without the build, done already): it listens
/// on this machine's LAN address, puts that address into every QR code and prints one in the terminal; settings
/// given in the environment win over run.sh's own. PostgreSQL is the test server (DATABASE_URL), not a new one.
/// </summary>
[Collection(ProcessesCollection.Name)]
public sealed partial class RunScriptTests(PostgresServer postgres)
{
    [Fact]
    public async Task Run_sh_lan_serves_the_lan_address_and_prints_a_qr_that_encodes_it()
    {
        var lanAddresses = NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .Where(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
            .Select(a => a.ToString())
            .ToList();
        Assert.True(lanAddresses.Count > 0, "this machine has no non-loopback IPv4 address to test --lan with");

        var data = Directory.CreateTempSubdirectory("invexqr-run-sh-");
        const string apiKey = "iqr_given_in_the_environment_0123456789";
        var gatewayPort = Shell.FreePort();
        await using var run = RunScript.Start(["--lan", "--no-build"], new Dictionary<string, string>
        {
            ["INVEXQR_DATA_DIR"] = data.FullName,
            ["DATABASE_URL"] = ToUrl(await postgres.CreateDatabaseAsync("runsh")),
            ["GATEWAY_PORT"] = gatewayPort.ToString(),
            ["SILO_HTTP_PORT"] = Shell.FreePort().ToString(),
            ["SILO_PORT"] = Shell.FreePort().ToString(),
            ["SILO_GATEWAY_PORT"] = Shell.FreePort().ToString(),
            ["Auth__ApiKey"] = apiKey,
        });
        await run.WaitForAsync("Ctrl-C stops everything.", TimeSpan.FromMinutes(3));

        // The key given in the environment, not one run.sh made up.
        Assert.Contains($"API key:  {apiKey}", run.Output);
        var phoneUrl = PhoneLine().Match(run.Output).Groups[1].Value;
        var lan = new Uri(phoneUrl);
        Assert.Contains(lan.Host, lanAddresses);
        Assert.Equal(gatewayPort, lan.Port);
        Assert.Equal("/r/hello", lan.AbsolutePath);

        // The terminal QR decodes (zbarimg) to the LAN URL, and so does the API's PNG.
        Assert.Equal(phoneUrl, await QrDecoder.DecodeTextAsync(run.Output));
        using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri($"http://{lan.Host}:{lan.Port}") };
        http.DefaultRequestHeaders.Authorization = new("Bearer", apiKey);
        Assert.Equal(phoneUrl, await QrDecoder.DecodePngAsync(await http.GetByteArrayAsync("/api/codes/hello/qr.png")));

        // A phone on the LAN reaches the gateway at that address and is redirected.
        using var scan = await http.GetAsync("/r/hello");
        Assert.Equal(HttpStatusCode.Found, scan.StatusCode);
        Assert.Equal("https://example.org/", scan.Headers.Location?.ToString());
        Assert.Contains($"PUBLIC_BASE_URL=http://{lan.Host}:{lan.Port}", await File.ReadAllTextAsync(Path.Combine(data.FullName, "run.env")));

        Assert.Equal(0, await run.TerminateAsync());
        Assert.Contains("stopped", run.Output);

        // The secrets it wrote (run.env holds the API key) are this user's alone.
        string[] secrets = ["session-secret", "run.env", "tls/ca.key", "tls/silo.key", "tls/gateway.key"];
        foreach (var secret in secrets)
        {
            Assert.True(OwnerOnly(Path.Combine(data.FullName, secret)), $"{secret} can be read by others");
        }

        data.Delete(recursive: true);
    }

    [Fact]
    public async Task Run_sh_refuses_an_unknown_argument_with_a_clear_message()
    {
        await using var run = RunScript.Start(["--lna"], new Dictionary<string, string>());
        Assert.Equal(2, await run.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("unknown argument '--lna'", run.Output);
    }

    private static bool OwnerOnly(string path) =>
        OperatingSystem.IsWindows() || (File.GetUnixFileMode(path) & ~(UnixFileMode.UserRead | UnixFileMode.UserWrite)) == 0;

    private static string ToUrl(string connectionString)
    {
        var b = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
        return $"postgresql://{b.Username}@{b.Host}:{b.Port}/{b.Database}";
    }

    [GeneratedRegex(@"Scan with a phone on the same network: (\S+)")]
    private static partial Regex PhoneLine();

    /// <summary><c>bash run.sh</c> with its output kept; stopped with SIGTERM (Ctrl-C's path), killed if it hangs.</summary>
    private sealed class RunScript : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly ConcurrentQueue<string> _lines = new();

        private RunScript(Process process) => _process = process;

        public string Output => string.Join('\n', _lines);

        public static RunScript Start(string[] args, IDictionary<string, string> environment)
        {
            var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Repo.Root };
            psi.ArgumentList.Add(Path.Combine(Repo.Root, "run.sh"));
            foreach (var arg in args)
            {
                psi.ArgumentList.Add(arg);
            }

            foreach (var (key, value) in environment)
            {
                psi.Environment[key] = value;
            }

            var run = new RunScript(new Process { StartInfo = psi });
            run._process.OutputDataReceived += (_, e) => run.Collect(e.Data);
            run._process.ErrorDataReceived += (_, e) => run.Collect(e.Data);
            run._process.Start();
            run._process.BeginOutputReadLine();
            run._process.BeginErrorReadLine();
            return run;
        }

        public async Task WaitForAsync(string line, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (!_lines.Any(l => l.Contains(line, StringComparison.Ordinal)))
            {
                Assert.False(_process.HasExited, $"run.sh exited with {(_process.HasExited ? _process.ExitCode : 0)}:\n{Output}");
                Assert.True(DateTime.UtcNow < deadline, $"run.sh did not print '{line}' in {timeout}:\n{Output}");
                await Polling.Pause(250);
            }
        }

        public async Task<int> WaitForExitAsync(TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            await _process.WaitForExitAsync(cts.Token);
            _process.WaitForExit();
            return _process.ExitCode;
        }

        public Task<int> TerminateAsync()
        {
            _ = kill(_process.Id, 15);
            return WaitForExitAsync(TimeSpan.FromSeconds(60));
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                try
                {
                    await TerminateAsync();
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                }
            }

            _process.Dispose();
        }

        private void Collect(string? line)
        {
            if (line is not null)
            {
                _lines.Enqueue(line);
            }
        }

        [DllImport("libc", SetLastError = true)]
        private static extern int kill(int pid, int sig);
    }
}
