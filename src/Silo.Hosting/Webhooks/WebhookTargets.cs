using System.Net;
using System.Net.Sockets;
using InvexQr.Grains.Webhooks;

namespace InvexQr.Silo.Hosting.Webhooks;

/// <summary>
/// Where webhooks may go (SSRF): the URL is checked when it is registered, and every connection checks the addresses its
/// host resolves to at that moment, so a name re-pointed at an internal address later is refused too.
/// </summary>
public static class WebhookTargets
{
    /// <summary>Null when <paramref name="url"/>'s host may be reached now; otherwise why not (for a 400).</summary>
    public static async Task<string?> RefusalAsync(Uri url, bool allowPrivate, CancellationToken cancellationToken)
    {
        var host = url.IdnHost.Trim('[', ']');
        IPAddress[] addresses;
        if (IPAddress.TryParse(host, out var literal))
        {
            addresses = [literal];
        }
        else
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                addresses = await Dns.GetHostAddressesAsync(host, timeout.Token);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                return $"url's host '{host}' could not be resolved.";
            }
        }

        if (addresses.Length == 0)
        {
            return $"url's host '{host}' could not be resolved.";
        }

        foreach (var address in addresses)
        {
            if (WebhookAddressPolicy.Refusal(address, allowPrivate) is { } reason)
            {
                return $"url must not point to loopback, link-local or private networks: {reason}.";
            }
        }

        return null;
    }

    /// <summary>
    /// The handler deliveries go through: no proxy (it would connect on our behalf, unchecked), no redirects (a 3xx could
    /// point anywhere), and a connect step that resolves the host itself and connects only to addresses the policy allows.
    /// </summary>
    public static SocketsHttpHandler CreateHandler(bool allowPrivate) => new()
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        ConnectTimeout = TimeSpan.FromSeconds(10),
        ConnectCallback = async (context, cancellationToken) =>
        {
            var host = context.DnsEndPoint.Host.Trim('[', ']');
            var resolved = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
            var allowed = resolved.Where(a => WebhookAddressPolicy.Refusal(a, allowPrivate) is null).ToArray();
            if (allowed.Length == 0)
            {
                var reason = resolved.Length == 0 ? "it resolves to no address" : WebhookAddressPolicy.Refusal(resolved[0], allowPrivate);
                throw new WebhookAddressRefusedException($"refused to connect to {host}: {reason}");
            }

            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };
}

/// <summary>A delivery's host resolved only to addresses webhooks may not reach.</summary>
public sealed class WebhookAddressRefusedException(string message) : Exception(message);
