using System.Net;
using InvexQr.Abstractions;
using Microsoft.AspNetCore.HttpOverrides;

namespace InvexQr.Gateway.Hosting;

/// <summary>
/// <c>/metrics</c>, <c>/health/ready</c> (its details name the database and cluster state) and the API documentation
/// (<c>/docs</c>, <c>/openapi</c>) are not for anyone who reaches the public port. They answer a caller that connects
/// directly (no forwarding header: not through a proxy) from loopback or from <c>Network:OperatorNetworks</c> (CIDRs,
/// e.g. the monitoring pods'), or that sends an admin key (for the documentation: any key or dashboard session);
/// anyone else gets 404.
/// <c>/health/live</c> stays anonymous for probes.
/// </summary>
public static class OperatorEndpoints
{
    public const string NetworksSetting = "Network:OperatorNetworks";

    public static WebApplicationBuilder AddOperatorEndpoints(this WebApplicationBuilder builder)
    {
        var networks = (builder.Configuration.GetSection(NetworksSetting).Get<string[]>() ?? [])
            .Select(n => System.Net.IPNetwork.TryParse(n, out var network)
                ? network
                : throw new InvalidOperationException($"{NetworksSetting}: '{n}' is not a network in CIDR notation (e.g. 10.244.0.0/16)."))
            .ToArray();
        builder.Services.AddSingleton(new OperatorNetworks(networks));
        return builder;
    }

    /// <summary>After authentication (an admin key is accepted) and before the endpoints.</summary>
    public static WebApplication UseOperatorEndpoints(this WebApplication app)
    {
        var networks = app.Services.GetRequiredService<OperatorNetworks>();
        app.Use(async (context, next) =>
        {
            if (IsOperatorPath(context.Request.Path) && !IsAllowed(context, networks))
            {
                await Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found.").ExecuteAsync(context);
                return;
            }

            await next(context);
        });
        return app;
    }

    public static bool IsOperatorPath(PathString path) =>
        path.StartsWithSegments("/metrics") || path.StartsWithSegments("/health/ready")
        || path.StartsWithSegments("/docs") || path.StartsWithSegments("/openapi");

    private static bool IsAllowed(HttpContext context, OperatorNetworks networks)
    {
        // The documentation is also for owners (the dashboard's session cookie is enough); the rest for admins.
        var documentation = context.Request.Path.StartsWithSegments("/docs") || context.Request.Path.StartsWithSegments("/openapi");
        if (context.User.IsInRole(Roles.Admin) || (documentation && context.User.Identity?.IsAuthenticated == true))
        {
            return true;
        }

        // Through a proxy (even a trusted one) the caller is whoever the proxy serves: only direct callers count.
        var headers = context.Request.Headers;
        if (headers.ContainsKey(ForwardedHeadersDefaults.XForwardedForHeaderName) || headers.ContainsKey("Forwarded")
            || headers.ContainsKey(ForwardedHeadersDefaults.XOriginalForHeaderName))
        {
            return false;
        }

        var address = context.Connection.RemoteIpAddress;
        if (address is null)
        {
            return false;
        }

        address = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        return IPAddress.IsLoopback(address) || networks.Networks.Any(n => n.Contains(address));
    }

    private sealed record OperatorNetworks(System.Net.IPNetwork[] Networks);
}
