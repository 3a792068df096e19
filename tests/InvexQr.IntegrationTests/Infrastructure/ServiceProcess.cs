using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace InvexQr.IntegrationTests.Infrastructure;

/// <summary>
/// One of our real processes (silo or gateway) started with <c>dotnet</c>, its output kept for
/// diagnostics. <see cref="TerminateAsync"/> sends SIGTERM, as Kubernetes and Ctrl-C do.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    /// <summary>
    /// Every line of the process's output with the time it arrived, in a file of its own under the directory named by
    /// INVEXQR_TEST_PROCESS_LOGS (unset: none), for finding where a slow start or stop spends its time.
    /// </summary>
    private readonly StreamWriter? _logFile;

    private ServiceProcess(string name, Process process, int httpPort)
    {
        Name = name;
        _process = process;
        HttpPort = httpPort;
        if (Environment.GetEnvironmentVariable("INVEXQR_TEST_PROCESS_LOGS") is { Length: > 0 } directory)
        {
            Directory.CreateDirectory(directory);
            _logFile = new StreamWriter(Path.Combine(directory, $"{name}-{httpPort}.log"), append: true) { AutoFlush = true };
        }
    }

    public string Name { get; }

    public int HttpPort { get; }

    public Uri BaseAddress => new($"http://127.0.0.1:{HttpPort}");

    public bool HasExited => _process.HasExited;

    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    public string Output => string.Join('\n', _output);

    /// <summary>The logged errors ("fail:" and "crit:" entries, with the lines under them), not the warnings.</summary>
    public string LoggedErrors
    {
        get
        {
            var lines = _output.ToArray();
            return string.Join("\n", lines
                .Select((line, i) => (line, i))
                .Where(x => x.line.StartsWith("fail:", StringComparison.Ordinal) || x.line.StartsWith("crit:", StringComparison.Ordinal))
                .Take(10)
                .SelectMany(x => lines.Skip(x.i).Take(8)));
        }
    }

    public static ServiceProcess Start(string name, string project, int httpPort, IDictionary<string, string> environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Repo.Root,
        };
        psi.ArgumentList.Add(Repo.ProcessDll(project));
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{httpPort}";
        psi.Environment["DOTNET_ENVIRONMENT"] = "Production";
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        psi.Environment["Logging__Console__FormatterName"] = "simple";
        foreach (var (key, value) in environment)
        {
            psi.Environment[key] = value;
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var service = new ServiceProcess(name, process, httpPort);
        process.OutputDataReceived += (_, e) => service.Collect(e.Data);
        process.ErrorDataReceived += (_, e) => service.Collect(e.Data);
        service.Collect($"(test) starting dotnet {string.Join(' ', psi.ArgumentList)}");
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return service;
    }

    /// <summary>Runs the process with <paramref name="args"/> (an operator command) until it exits; at most two minutes.</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(string project, IDictionary<string, string> environment, params string[] args)
    {
        await using var run = Start(project.ToLowerInvariant() + "-command", project, Shell.FreePort(), environment, args);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await run._process.WaitForExitAsync(timeout.Token);
        run._process.WaitForExit(); // flushes the redirected output
        return (run._process.ExitCode, run.Output);
    }

    /// <summary>Waits until <c>/health/ready</c> answers 200, or fails with the process output.</summary>
    public async Task WaitReadyAsync(TimeSpan? timeout = null)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(90));
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with {_process.ExitCode}:\n{Output}");
            }

            try
            {
                using var response = await http.GetAsync("/health/ready");
                if (response.IsSuccessStatusCode)
                {
                    Collect("(test) ready");
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Polling.Pause(250);
        }

        throw new TimeoutException($"{Name} was not ready in time:\n{Output}");
    }

    /// <summary>SIGKILL: the process dies at once, as in a crash or an OOM kill.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    /// <summary>SIGTERM, then wait for a clean exit.</summary>
    public async Task TerminateAsync(TimeSpan? timeout = null)
    {
        if (_process.HasExited)
        {
            return;
        }

        Collect("(test) SIGTERM");
        _ = kill(_process.Id, SigTerm);
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Name} did not stop after SIGTERM:\n{Output}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        _logFile?.Dispose();
    }

    private void Collect(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        if (_logFile is not null)
        {
            lock (_logFile)
            {
                try
                {
                    _logFile.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {line}");
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }

        while (_output.Count > 2000 && _output.TryDequeue(out _))
        {
        }
    }

    private const int SigTerm = 15;

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
