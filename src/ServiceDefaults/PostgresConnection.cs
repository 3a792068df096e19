using Microsoft.Extensions.Configuration;
using Npgsql;

namespace InvexQr.ServiceDefaults;

/// <summary>
/// Where the database is. <c>ConnectionStrings:Postgres</c> (env <c>ConnectionStrings__Postgres</c>) holds an
/// Npgsql connection string; <c>DATABASE_URL</c> (a <c>postgresql://user:pass@host:port/db</c> URL, as
/// platforms hand it out) is accepted when the former is absent.
/// </summary>
public static class PostgresConnection
{
    public const string ConfigurationKey = "ConnectionStrings:Postgres";

    public static string Resolve(IConfiguration configuration)
    {
        var connectionString = configuration[ConfigurationKey];
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            var url = configuration["DATABASE_URL"];
            connectionString = !string.IsNullOrWhiteSpace(url)
                ? FromUrl(url)
                : throw new InvalidOperationException(
                    $"No database configured: set {ConfigurationKey} (env ConnectionStrings__Postgres) or DATABASE_URL.");
        }

        // Nothing here sets session state, so a pooled connection needs no DISCARD ALL when it is reused:
        // by default Npgsql sends one per reuse, a second transaction for every single-statement command.
        // An explicit "No Reset On Close" in the configured string wins.
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!connectionString.Contains("Reset On Close", StringComparison.OrdinalIgnoreCase)
            && !connectionString.Contains("NoResetOnClose", StringComparison.OrdinalIgnoreCase))
        {
            builder.NoResetOnClose = true;
        }

        return builder.ConnectionString;
    }

    /// <summary>Converts a <c>postgresql://</c> or <c>postgres://</c> URL into an Npgsql connection string.</summary>
    public static string FromUrl(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("postgresql" or "postgres"))
        {
            throw new InvalidOperationException("DATABASE_URL must look like postgresql://user:password@host:port/database.");
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')),
        };

        var userInfo = uri.UserInfo.Split(':', 2);
        if (userInfo[0].Length > 0)
        {
            builder.Username = Uri.UnescapeDataString(userInfo[0]);
        }

        if (userInfo.Length == 2)
        {
            builder.Password = Uri.UnescapeDataString(userInfo[1]);
        }

        return builder.ConnectionString;
    }
}
