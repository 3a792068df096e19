using System.Net;
using Microsoft.AspNetCore.HttpOverrides;

namespace InvexQr.Gateway.Hosting;

/// <summary>
/// Which client address a scan is attributed to. The connection's peer, unless that peer is a
/// configured trusted proxy (<c>Network:TrustedProxies</c>, e.g. <c>10.0.0.5</c>) or inside a trusted
/// network (<c>Network:TrustedNetworks</c>, e.g. <c>10.0.0.0/8</c>): only then are
/// <c>X-Forwarded-For</c> or RFC 7239 <c>Forwarded: for=…</c> believed. Nothing is trusted by
/// default — not even loopback — so a spoofed header from an ordinary client changes nothing.
/// </summary>
public static class ClientIpSetup
{
    public static WebApplicationBuilder AddClientIp(this WebApplicationBuilder builder)
    {
        var proxies = builder.Configuration.GetSection("Network:TrustedProxies").Get<string[]>() ?? [];
        var networks = builder.Configuration.GetSection("Network:TrustedNetworks").Get<string[]>() ?? [];
        builder.Services.AddSingleton(new TrustedProxies(proxies.Length + networks.Length > 0));
        builder.Services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            o.KnownProxies.Clear();
            o.KnownIPNetworks.Clear();
            foreach (var proxy in proxies)
            {
                o.KnownProxies.Add(IPAddress.Parse(proxy));
            }

            foreach (var network in networks)
            {
                o.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
            }

            // Walk back through as many trusted proxies as are chained, not just one.
            o.ForwardLimit = null;
        });
        return builder;
    }

    /// <summary>Forwarded-header handling; must come first in the pipeline.</summary>
    public static WebApplication UseClientIp(this WebApplication app)
    {
        // With no known proxies ASP.NET Core's middleware would trust every peer's headers, so it is
        // only added when some proxy is trusted.
        if (app.Services.GetRequiredService<TrustedProxies>().Any)
        {
            app.Use(TranslateForwardedHeader);
            app.UseForwardedHeaders();
        }

        return app;
    }

    private sealed record TrustedProxies(bool Any);

    /// <summary>The peer address, with IPv4-mapped IPv6 (::ffff:a.b.c.d) shown as plain IPv4.</summary>
    public static IPAddress? ClientAddress(this HttpContext http)
    {
        var address = http.Connection.RemoteIpAddress;
        return address is { IsIPv4MappedToIPv6: true } ? address.MapToIPv4() : address;
    }

    /// <summary>
    /// ASP.NET Core reads X-Forwarded-For only; proxies speaking RFC 7239 send <c>Forwarded</c>. Its
    /// <c>for=</c> values are copied into X-Forwarded-For (when that is absent) and then go through
    /// the same trust checks.
    /// </summary>
    private static Task TranslateForwardedHeader(HttpContext http, RequestDelegate next)
    {
        var forwarded = http.Request.Headers["Forwarded"];
        if (forwarded.Count > 0 && !http.Request.Headers.ContainsKey(ForwardedHeadersDefaults.XForwardedForHeaderName))
        {
            var addresses = new List<string>();
            foreach (var element in string.Join(',', forwarded.ToArray()).Split(','))
            {
                foreach (var pair in element.Split(';'))
                {
                    var kv = pair.Trim();
                    if (kv.StartsWith("for=", StringComparison.OrdinalIgnoreCase))
                    {
                        addresses.Add(NormalizeForwardedNode(kv[4..].Trim('"')));
                    }
                }
            }

            if (addresses.Count > 0)
            {
                http.Request.Headers[ForwardedHeadersDefaults.XForwardedForHeaderName] = string.Join(", ", addresses);
            }
        }

        return next(http);
    }

    /// <summary><c>"[2001:db8::1]:4711"</c> → <c>2001:db8::1</c>; <c>192.0.2.60:8080</c> → <c>192.0.2.60</c>.</summary>
    private static string NormalizeForwardedNode(string node)
    {
        if (node.StartsWith('['))
        {
            var end = node.IndexOf(']');
            return end > 0 ? node[1..end] : node;
        }

        var colon = node.IndexOf(':');
        return colon > 0 && node.IndexOf(':', colon + 1) < 0 ? node[..colon] : node;
    }
}
