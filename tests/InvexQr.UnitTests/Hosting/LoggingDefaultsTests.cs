using InvexQr.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace InvexQr.UnitTests.Hosting;

public sealed class LoggingDefaultsTests
{
    [Fact]
    public void Per_request_framework_logs_are_off_by_default_and_our_own_information_stays()
    {
        using var host = Build();
        var loggers = host.Services.GetRequiredService<ILoggerFactory>();

        Assert.False(loggers.CreateLogger("Microsoft.AspNetCore.Hosting.Diagnostics").IsEnabled(LogLevel.Information));
        Assert.True(loggers.CreateLogger("Microsoft.AspNetCore.Hosting.Diagnostics").IsEnabled(LogLevel.Warning));
        Assert.False(loggers.CreateLogger("Polly").IsEnabled(LogLevel.Information));
        Assert.True(loggers.CreateLogger("Polly").IsEnabled(LogLevel.Warning));
        Assert.True(loggers.CreateLogger("Microsoft.Hosting.Lifetime").IsEnabled(LogLevel.Information));
        Assert.True(loggers.CreateLogger("InvexQr.Silo.Scans.ScanSink").IsEnabled(LogLevel.Information));
    }

    [Fact]
    public void An_operator_setting_overrides_the_defaults()
    {
        using var host = Build(new Dictionary<string, string?> { ["Logging:LogLevel:Microsoft.AspNetCore"] = "Information" });

        Assert.True(host.Services.GetRequiredService<ILoggerFactory>()
            .CreateLogger("Microsoft.AspNetCore.Hosting.Diagnostics").IsEnabled(LogLevel.Information));
    }

    private static IHost Build(Dictionary<string, string?>? operatorSettings = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = false, Args = [] });
        // Stands for appsettings or environment variables, which are added before the defaults are inserted.
        builder.Configuration.AddInMemoryCollection(operatorSettings ?? []);
        builder.AddInvexQrLoggingDefaults();
        return builder.Build();
    }
}
