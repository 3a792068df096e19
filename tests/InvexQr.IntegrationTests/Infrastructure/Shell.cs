using System.Diagnostics;

namespace InvexQr.IntegrationTests.Infrastructure;

/// <summary>Runs a short command to completion and fails loudly with its output.</summary>
public static class Shell
{
    public static async Task<string> RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {process.ExitCode}:\n{await stdout}\n{await stderr}");
        }

        return (await stdout).Trim();
    }

    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// A TCP port nothing listens on right now (the OS picks it) and that this test run has not handed out before.
    /// The OS may offer a port again once its probe listener is closed: a silo once got the same port for its HTTP
    /// endpoint and its Orleans endpoint, and failed to start (a CI run of 2026-12-01).
    /// </summary>
    public static int FreePort()
    {
        lock (HandedOut)
        {
            while (true)
            {
                var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
                listener.Start();
                var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
                listener.Stop();
                if (HandedOut.Add(port))
                {
                    return port;
                }
            }
        }
    }
}
