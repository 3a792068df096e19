namespace InvexQr.Grains.Routing;

/// <summary>OS families that rules match on, from the OS names uap-core gives (<c>iOS</c>, <c>Mac OS X</c>, <c>Ubuntu</c>…).</summary>
public static class OsFamily
{
    public static readonly string[] Names = ["ios", "android", "windows", "macos", "linux", "chromeos", "other"];

    private static readonly string[] LinuxNames =
        ["linux", "ubuntu", "debian", "fedora", "red hat", "suse", "opensuse", "mint", "arch linux", "gentoo", "kubuntu", "slackware", "centos"];

    /// <summary>The family of a uap-core OS name (a family name maps to itself); <c>other</c> when unknown.</summary>
    public static string Of(string? os)
    {
        if (string.IsNullOrEmpty(os))
        {
            return "other";
        }

        if (os.Equals("iOS", StringComparison.OrdinalIgnoreCase) || os.Equals("iPadOS", StringComparison.OrdinalIgnoreCase))
        {
            return "ios";
        }

        if (os.StartsWith("Android", StringComparison.OrdinalIgnoreCase))
        {
            return "android";
        }

        if (os.StartsWith("Windows", StringComparison.OrdinalIgnoreCase))
        {
            return "windows";
        }

        if (os.StartsWith("Mac OS", StringComparison.OrdinalIgnoreCase) || os.Equals("macOS", StringComparison.OrdinalIgnoreCase))
        {
            return "macos";
        }

        if (os.Equals("Chrome OS", StringComparison.OrdinalIgnoreCase) || os.Equals("ChromeOS", StringComparison.OrdinalIgnoreCase))
        {
            return "chromeos";
        }

        foreach (var name in LinuxNames)
        {
            if (os.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return "linux";
            }
        }

        return "other";
    }
}

/// <summary>The preferred language of an <c>Accept-Language</c> header.</summary>
public static class AcceptLanguage
{
    /// <summary>
    /// The primary subtag, lower case, of the range with the highest q (the first of equals): <c>fr</c> for
    /// <c>en;q=0.5, fr-CA</c>. Null when the header names none (empty, <c>*</c> only, or malformed).
    /// </summary>
    public static string? Primary(string? header)
    {
        if (string.IsNullOrWhiteSpace(header))
        {
            return null;
        }

        ReadOnlySpan<char> best = default;
        var bestQ = 0.0;
        foreach (var range in header.AsSpan().Split(','))
        {
            var item = header.AsSpan()[range].Trim();
            var semicolon = item.IndexOf(';');
            var tag = (semicolon < 0 ? item : item[..semicolon]).Trim();
            var q = 1.0;
            if (semicolon >= 0)
            {
                var parameters = item[(semicolon + 1)..].Trim();
                if (parameters.StartsWith("q=", StringComparison.OrdinalIgnoreCase)
                    && !double.TryParse(parameters[2..], System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out q))
                {
                    continue;
                }
            }

            var dash = tag.IndexOf('-');
            var primary = dash < 0 ? tag : tag[..dash];
            if (primary.Length is < 2 or > 3 || !IsLetters(primary) || q <= bestQ)
            {
                continue;
            }

            best = primary;
            bestQ = q;
        }

        return best.IsEmpty ? null : best.ToString().ToLowerInvariant();
    }

    private static bool IsLetters(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (!char.IsAsciiLetter(c))
            {
                return false;
            }
        }

        return true;
    }
}
