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
        var mode = builder.Configuration.GetValue("Network:ForwardedHeaders", ForwardedHeaderMode.Auto);
        builder.Services.AddSingleton(new TrustedProxies(proxies.Length + networks.Length > 0, mode));
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
        var trusted = app.Services.GetRequiredService<TrustedProxies>();
        if (trusted.Any)
        {
            app.Use((http, next) => TranslateForwardedHeader(http, next, trusted.Mode));
            app.UseForwardedHeaders();
        }

        return app;
    }

    /// <summary>Which header the trusted proxies speak (<c>Network:ForwardedHeaders</c>).</summary>
    public enum ForwardedHeaderMode
    {
        /// <summary>X-Forwarded-For/-Proto; RFC 7239 <c>Forwarded</c> only on requests without X-Forwarded-For.</summary>
        Auto,

        /// <summary>X-Forwarded-For/-Proto only: a <c>Forwarded</c> header is the client's own and ignored.</summary>
        XForwardedFor,

        /// <summary>RFC 7239 <c>Forwarded</c> only (for= and proto=): X-Forwarded-* headers are the client's own and dropped.</summary>
        Forwarded,
    }

    private sealed record TrustedProxies(bool Any, ForwardedHeaderMode Mode);

    /// <summary>The peer address, with IPv4-mapped IPv6 (::ffff:a.b.c.d) shown as plain IPv4.</summary>
    public static IPAddress? ClientAddress(this HttpContext http)
    {
        var address = http.Connection.RemoteIpAddress;
        return address is { IsIPv4MappedToIPv6: true } ? address.MapToIPv4() : address;
    }

    /// <summary>
    /// ASP.NET Core reads X-Forwarded-For/-Proto only; proxies speaking RFC 7239 send <c>Forwarded</c>. Its <c>for=</c>
    /// and <c>proto=</c> values are copied into X-Forwarded-For/-Proto and then go through the same trust checks. With a
    /// proxy that speaks <c>Forwarded</c> (mode <see cref="ForwardedHeaderMode.Forwarded"/>) the X-Forwarded-* headers
    /// can only be the client's, so they are replaced; in <see cref="ForwardedHeaderMode.Auto"/> they win.
    /// </summary>
    private static Task TranslateForwardedHeader(HttpContext http, RequestDelegate next, ForwardedHeaderMode mode)
    {
        var headers = http.Request.Headers;
        if (mode == ForwardedHeaderMode.XForwardedFor)
        {
            return next(http);
        }

        if (mode == ForwardedHeaderMode.Forwarded)
        {
            headers.Remove(ForwardedHeadersDefaults.XForwardedForHeaderName);
            headers.Remove(ForwardedHeadersDefaults.XForwardedProtoHeaderName);
            headers.Remove(ForwardedHeadersDefaults.XForwardedHostHeaderName);
        }

        var forwarded = headers["Forwarded"];
        if (forwarded.Count > 0 && !headers.ContainsKey(ForwardedHeadersDefaults.XForwardedForHeaderName))
        {
            var addresses = new List<string>();
            var protocols = new List<string>();
            foreach (var element in string.Join(',', forwarded.ToArray()).Split(','))
            {
                string? proto = null;
                foreach (var pair in element.Split(';'))
                {
                    var kv = pair.Trim();
                    if (kv.StartsWith("for=", StringComparison.OrdinalIgnoreCase))
                    {
                        addresses.Add(NormalizeForwardedNode(kv[4..].Trim('"')));
                    }
                    else if (kv.StartsWith("proto=", StringComparison.OrdinalIgnoreCase))
                    {
                        proto = kv[6..].Trim('"').ToLowerInvariant();
                    }
                }

                if (proto is "http" or "https")
                {
                    protocols.Add(proto);
                }
            }

            if (addresses.Count > 0)
            {
                headers[ForwardedHeadersDefaults.XForwardedForHeaderName] = string.Join(", ", addresses);
                // Only when every hop said which scheme it received, so that the two lists line up.
                if (protocols.Count == addresses.Count && !headers.ContainsKey(ForwardedHeadersDefaults.XForwardedProtoHeaderName))
                {
                    headers[ForwardedHeadersDefaults.XForwardedProtoHeaderName] = string.Join(", ", protocols);
                }
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
