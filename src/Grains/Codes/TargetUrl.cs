namespace InvexQr.Grains.Codes;

/// <summary>Validation of a code's target URL: absolute http(s) only, bounded length.</summary>
public static class TargetUrl
{
    public const int MaxLength = 2048;

    /// <summary>Returns null when valid, otherwise a message for the API's error.</summary>
    public static string? Validate(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return "targetUrl is required.";
        }

        if (value.Length > MaxLength)
        {
            return $"targetUrl must be at most {MaxLength} characters.";
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || string.IsNullOrEmpty(uri.Host))
        {
            return "targetUrl must be an absolute http or https URL.";
        }

        return null;
    }
}
