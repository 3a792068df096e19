using System.Net;
using System.Net.Sockets;

namespace InvexQr.Grains.Webhooks;

/// <summary>
/// Which addresses a webhook may reach (SSRF): never loopback, link-local (cloud metadata at 169.254.169.254),
/// private, shared (CGNAT), unspecified, multicast or reserved ranges, unless the operator allows private addresses.
/// Checked on the URL at registration and on every resolved address at connection time (DNS may change in between).
/// </summary>
public static class WebhookAddressPolicy
{
    /// <summary>Null when <paramref name="address"/> may be reached; otherwise why not.</summary>
    public static string? Refusal(IPAddress address, bool allowPrivate)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast))
        {
            return $"{address} is not a routable address";
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.IsIPv6Multicast)
        {
            return $"{address} is a multicast address";
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            if (b[0] >= 224)
            {
                return $"{address} is a multicast or reserved address";
            }

            if (b[0] == 0)
            {
                return $"{address} is not a routable address";
            }
        }

        if (allowPrivate)
        {
            return null;
        }

        if (IPAddress.IsLoopback(address))
        {
            return $"{address} is a loopback address";
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return (b[0], b[1]) switch
            {
                (169, 254) => $"{address} is a link-local address",
                (10, _) => $"{address} is a private address",
                (172, >= 16 and <= 31) => $"{address} is a private address",
                (192, 168) => $"{address} is a private address",
                (100, >= 64 and <= 127) => $"{address} is a shared (carrier-grade NAT) address",
                (198, 18 or 19) => $"{address} is a reserved address",
                (192, 0) when b[2] == 0 => $"{address} is a reserved address",
                _ => null,
            };
        }

        if (address.IsIPv6LinkLocal || address.IsIPv6SiteLocal)
        {
            return $"{address} is a link-local address";
        }

        if (address.IsIPv6UniqueLocal)
        {
            return $"{address} is a private address";
        }

        var bytes = address.GetAddressBytes();
        // IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96) forms carry an IPv4 address: judge that one.
        if (bytes.Take(12).All(x => x == 0) || (bytes[0] == 0x00 && bytes[1] == 0x64 && bytes[2] == 0xff && bytes[3] == 0x9b && bytes.Skip(4).Take(8).All(x => x == 0)))
        {
            return Refusal(new IPAddress(bytes[12..]), allowPrivate);
        }

        return null;
    }
}
