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
    /// A TCP port nothing listens on right now and that this test run has not handed out before, taken below the
    /// kernel's ephemeral range. A port the OS picks (bind to port 0) comes from that range, which every outgoing
    /// connection of the machine also draws its local port from: between the probe and the silo's own bind, a client
    /// socket took one (a silo failed with "Address already in use" in a fresh-clone run of 2026-12-05). Ports below
    /// the range are only ever taken by something that asks for them.
    /// </summary>
    public static int FreePort()
    {
        lock (HandedOut)
        {
            var below = EphemeralLow();
            for (var attempt = 0; attempt < 10_000; attempt++)
            {
                // A machine whose ephemeral range starts low leaves no room below it: the OS's pick, then.
                var port = below > 6_000 ? Random.Shared.Next(Math.Max(1024, below - 20_000), below) : OsPicked();
                if (HandedOut.Contains(port))
                {
                    continue;
                }

                try
                {
                    var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
                    listener.Start();
                    listener.Stop();
                }
                catch (System.Net.Sockets.SocketException)
                {
                    continue; // something listens there
                }

                HandedOut.Add(port);
                return port;
            }

            throw new InvalidOperationException("No free TCP port below the ephemeral range");
        }
    }

    private static int OsPicked()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static int EphemeralLow()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32_768; // Linux's default
        }
    }
}
