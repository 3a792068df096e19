using System.Net;
using System.Net.Sockets;

namespace InvexQr.Grains.Scans;

/// <summary>
/// Anonymises client addresses before they are stored: IPv4 keeps its /24, IPv6 its /48
/// (IPv4-mapped IPv6 is treated as IPv4). The full address lives in memory only.
/// </summary>
public static class IpAnonymizer
{
    public static string? Truncate(string? ip)
    {
        if (ip is null || !IPAddress.TryParse(ip, out var address))
        {
            return null;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        var bytes = address.GetAddressBytes();
        var keep = address.AddressFamily == AddressFamily.InterNetwork ? 3 : 6;
        Array.Clear(bytes, keep, bytes.Length - keep);
        return new IPAddress(bytes).ToString();
    }
}
