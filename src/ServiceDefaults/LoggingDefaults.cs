using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.Hosting;

namespace InvexQr.ServiceDefaults;

/// <summary>
/// Log levels every InvexQR process starts from. ASP.NET Core logs two Information lines per request
/// ("Request starting", "Request finished"): at scan rates that is tens of thousands of console lines a
/// second, the gateway's largest cost after the scan itself. So <c>Microsoft.AspNetCore</c> (and Polly,
/// per activation) log warnings and up. These are defaults, added below every other configuration source: an operator can still set
/// <c>Logging__LogLevel__Microsoft.AspNetCore=Information</c> (or any level) through the environment.
/// </summary>
public static class LoggingDefaults
{
    public static readonly IReadOnlyDictionary<string, string?> Levels = new Dictionary<string, string?>
    {
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        // Orleans' placement runs through a Polly pipeline that logs two Information lines per new activation
        // ("Execution attempt", "Resilience pipeline executed"); its retries are warnings and stay.
        ["Logging:LogLevel:Polly"] = "Warning",
        // "Now listening on", "Application started", "Application is shutting down": worth keeping.
        ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information",
    };

    public static IHostApplicationBuilder AddInvexQrLoggingDefaults(this IHostApplicationBuilder builder)
    {
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = Levels });
        return builder;
    }
}
