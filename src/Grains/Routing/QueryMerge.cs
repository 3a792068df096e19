using System.Text;

namespace InvexQr.Grains.Routing;

/// <summary>
/// Merges parameters into a target URL: the owner's UTM parameters replace parameters of the same name in the target,
/// then the scan's own query string is appended, except parameters the URL already has (the owner's win). The target's
/// fragment stays last, and every added character is percent-encoded where a URL requires it.
/// </summary>
public static class QueryMerge
{
    /// <summary>Longest URL this produces; beyond it the scan's query is left out rather than cut.</summary>
    public const int MaxLength = 8000;

    /// <param name="set">Parameters to set (names and values unencoded), replacing the target's of the same name.</param>
    /// <param name="scanQuery">The scan's raw query string (with or without its '?'), appended; null for none.</param>
    public static string Merge(string target, IReadOnlyList<KeyValuePair<string, string>> set, string? scanQuery)
    {
        if (set.Count == 0 && string.IsNullOrEmpty(scanQuery))
        {
            return target;
        }

        var hash = target.IndexOf('#');
        var fragment = hash < 0 ? string.Empty : target[hash..];
        var withoutFragment = hash < 0 ? target : target[..hash];
        var question = withoutFragment.IndexOf('?');
        var path = question < 0 ? withoutFragment : withoutFragment[..question];
        var query = question < 0 ? string.Empty : withoutFragment[(question + 1)..];

        var pairs = new List<string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = NameOf(pair);
            if (!set.Any(p => p.Key == name))
            {
                pairs.Add(pair);
                names.Add(name);
            }
        }

        foreach (var (name, value) in set)
        {
            pairs.Add(Uri.EscapeDataString(name) + "=" + Uri.EscapeDataString(value));
            names.Add(name);
        }

        var merged = Build(path, pairs, fragment);
        if (string.IsNullOrEmpty(scanQuery))
        {
            return merged;
        }

        foreach (var raw in scanQuery.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var pair = Sanitise(raw);
            if (names.Add(NameOf(pair)))
            {
                pairs.Add(pair);
            }
        }

        var passed = Build(path, pairs, fragment);
        return passed.Length <= MaxLength ? passed : merged;
    }

    private static string Build(string path, List<string> pairs, string fragment) =>
        pairs.Count == 0 ? path + fragment : path + "?" + string.Join('&', pairs) + fragment;

    /// <summary>The decoded name of <c>name=value</c> (a '+' is a space, as in a form).</summary>
    private static string NameOf(string pair)
    {
        var equals = pair.IndexOf('=');
        var name = equals < 0 ? pair : pair[..equals];
        try
        {
            return Uri.UnescapeDataString(name.Replace('+', ' '));
        }
        catch (UriFormatException)
        {
            return name;
        }
    }

    /// <summary>
    /// Keeps a raw pair as sent (its encoding, '+' included) but percent-encodes what may not stand in a query:
    /// spaces, quotes, '#', non-ASCII, and a '%' that does not start an escape.
    /// </summary>
    private static string Sanitise(string pair)
    {
        StringBuilder? builder = null;
        for (var i = 0; i < pair.Length; i++)
        {
            var c = pair[i];
            var keep = c < 128 && (char.IsAsciiLetterOrDigit(c) || "-._~!$'()*+,;=:@/?".Contains(c)
                || (c == '%' && i + 2 < pair.Length && Uri.IsHexDigit(pair[i + 1]) && Uri.IsHexDigit(pair[i + 2])));
            if (keep && builder is null)
            {
                continue;
            }

            builder ??= new StringBuilder(pair, 0, i, pair.Length + 16);
            if (keep)
            {
                builder.Append(c);
            }
            else
            {
                foreach (var b in Encoding.UTF8.GetBytes(char.IsSurrogatePair(pair, i) ? pair.Substring(i++, 2) : c.ToString()))
                {
                    builder.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
                }
            }
        }

        return builder?.ToString() ?? pair;
    }
}
