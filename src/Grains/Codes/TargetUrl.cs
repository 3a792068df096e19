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

        var authority = uri.IsDefaultPort ? uri.IdnHost : $"{uri.IdnHost}:{uri.Port}";
        if (uri.AbsolutePath.StartsWith("/r/", StringComparison.OrdinalIgnoreCase)
            && ownHosts.Any(h => string.Equals(h, authority, StringComparison.OrdinalIgnoreCase) || string.Equals(h, uri.IdnHost, StringComparison.OrdinalIgnoreCase)))
        {
            return "targetUrl must not be a short URL of this service (it would redirect in a loop).";
        }

        return null;
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
