namespace InvexQr.ServiceDefaults;

/// <summary>
/// A setting the process refuses to start with (a weak admin key, cluster TLS missing or broken). The message names
/// the setting and says what to do; the programs print it and exit with <see cref="ExitCode"/> instead of a stack trace.
/// </summary>
public sealed class StartupConfigurationException(string message) : Exception(message)
{
    public const int ExitCode = 78; // EX_CONFIG of sysexits.h

    /// <summary>Runs the program; a refused setting becomes one line on stderr and <see cref="ExitCode"/>.</summary>
    public static async Task<int> GuardAsync(string program, Func<Task<int>> run)
    {
        try
        {
            return await run();
        }
        catch (StartupConfigurationException ex)
        {
            await Console.Error.WriteLineAsync($"{program}: refusing to start: {ex.Message}");
            return ExitCode;
        }
    }
}
