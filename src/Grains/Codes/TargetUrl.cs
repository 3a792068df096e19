namespace InvexQr.Grains.Codes;

/// <summary>
/// Validation and normalisation of a code's target URL: absolute http(s) only (no <c>javascript:</c>,
/// <c>data:</c>, <c>file:</c>…), bounded length, internationalised host names in their ASCII
/// (punycode) form, and never one of our own short URLs (a redirect loop).
/// </summary>
public static class TargetUrl
{
    public const int MaxLength = 2048;

    /// <summary>Returns null when valid, otherwise a message for the API's error.</summary>
    public static string? Validate(string? value) => Validate(value, ownHosts: []);

    /// <param name="ownHosts">Host names (with optional port) our short URLs live on.</param>
    public static string? Validate(string? value, IReadOnlyCollection<string> ownHosts)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return "targetUrl is required.";
        }

        if (value.Length > MaxLength)
        {
            return $"targetUrl must be at most {MaxLength} characters.";
        }

        // Control characters (CR/LF, tab, NUL, …) have no place in a URL someone typed; a parser would
        // percent-encode or drop them, which hides what the owner actually sent.
        if (value.Any(char.IsControl))
        {
            return "targetUrl must not contain control characters (line breaks, tabs, NUL).";
        }

        if (!Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || string.IsNullOrEmpty(uri.Host))
        {
            return "targetUrl must be an absolute http or https URL.";
        }

        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            return "targetUrl must not contain a user name or password.";
        }

        if (Normalize(value).Length > MaxLength)
        {
            return $"targetUrl must be at most {MaxLength} characters once percent-encoded.";
        }

        if (IsShortUrlPath(uri) && IsOwnHost(uri.IdnHost, ownHosts))
        {
            return "targetUrl must not be a short URL of this service (it would redirect in a loop).";
        }

        return null;
    }

    /// <summary>A path the gateway would route to <c>/r/{code}</c>, however it is spelled (case, percent-encoding, doubled slashes).</summary>
    private static bool IsShortUrlPath(Uri uri) =>
        Uri.UnescapeDataString(uri.AbsolutePath).TrimStart('/').StartsWith("r/", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// True when <paramref name="host"/> names one of <paramref name="ownHosts"/> (ports ignored), or a loopback or
    /// unspecified address in any spelling (localhost, 127.0.0.1., [::ffff:127.0.0.1], 2130706433, 0x7f000001, …):
    /// a phone cannot reach those, and the gateway itself would answer them.
    /// </summary>
    public static bool IsOwnHost(string host, IReadOnlyCollection<string> ownHosts)
    {
        var canonical = CanonicalHost(host);
        if (IsLocal(canonical))
        {
            return true;
        }

        return ownHosts.Any(own => CanonicalHost(StripPort(own)) == canonical);
    }

    /// <summary>Lower case, no trailing dots or brackets, IP addresses in their one standard form (IPv4-mapped IPv6 as IPv4).</summary>
    public static string CanonicalHost(string host)
    {
        var trimmed = host.Trim().TrimStart('[').TrimEnd(']').TrimEnd('.').ToLowerInvariant();
        if (System.Net.IPAddress.TryParse(trimmed, out var address))
        {
            return (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();
        }

        return trimmed;
    }

    private static bool IsLocal(string canonical)
    {
        if (canonical == "localhost" || canonical.EndsWith(".localhost", StringComparison.Ordinal))
        {
            return true;
        }

        return System.Net.IPAddress.TryParse(canonical, out var address)
            && (System.Net.IPAddress.IsLoopback(address) || address.Equals(System.Net.IPAddress.Any) || address.Equals(System.Net.IPAddress.IPv6Any));
    }

    private static string StripPort(string hostAndPort)
    {
        if (hostAndPort.StartsWith('['))
        {
            var end = hostAndPort.IndexOf(']');
            return end > 0 ? hostAndPort[..(end + 1)] : hostAndPort;
        }

        var colon = hostAndPort.LastIndexOf(':');
        return colon > 0 && hostAndPort.IndexOf(':') == colon ? hostAndPort[..colon] : hostAndPort;
    }

    /// <summary>The URL as stored and redirected to: trimmed, host in punycode. Call after <see cref="Validate(string?)"/>.</summary>
    public static string Normalize(string value)
    {
        var uri = new Uri(value.Trim(), UriKind.Absolute);
        if (uri.Host == uri.IdnHost)
        {
            return uri.AbsoluteUri;
        }

        return new UriBuilder(uri) { Host = uri.IdnHost }.Uri.AbsoluteUri;
    }
}
