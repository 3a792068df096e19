using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace InvexQr.Grains.Enrichment.UserAgents;

/// <summary>
/// The rules of uap-core's <c>regexes.yaml</c>, loaded with YamlDotNet: three ordered lists of
/// regexes (user agent, OS, device) with their replacement templates, as uap-core's
/// <c>docs/specification.md</c> describes them. Regexes are built once, unanchored, case-sensitive
/// unless <c>regex_flag: 'i'</c>, each with a match timeout so a pathological string cannot stall a
/// request. Patterns .NET cannot compile are skipped and counted.
/// </summary>
public sealed class UapRegexes
{
    private UapRegexes(List<UapRule> userAgents, List<UapRule> oses, List<UapRule> devices, int skipped)
    {
        UserAgents = userAgents;
        Oses = oses;
        Devices = devices;
        Skipped = skipped;
    }

    public IReadOnlyList<UapRule> UserAgents { get; }

    public IReadOnlyList<UapRule> Oses { get; }

    public IReadOnlyList<UapRule> Devices { get; }

    /// <summary>Rules whose pattern .NET's regex engine rejected.</summary>
    public int Skipped { get; }

    public static UapRegexes Load(string path, TimeSpan matchTimeout)
    {
        var yaml = new YamlStream();
        using (var reader = File.OpenText(path))
        {
            yaml.Load(reader);
        }

        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        var skipped = 0;
        List<UapRule> Read(string section)
        {
            var rules = new List<UapRule>();
            foreach (var item in ((YamlSequenceNode)root.Children[new YamlScalarNode(section)]).Children.Cast<YamlMappingNode>())
            {
                var fields = item.Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => ((YamlScalarNode)kv.Value).Value);
                var options = RegexOptions.CultureInvariant | RegexOptions.Compiled;
                if (fields.GetValueOrDefault("regex_flag") == "i")
                {
                    options |= RegexOptions.IgnoreCase;
                }

                try
                {
                    rules.Add(new UapRule(new Regex(fields["regex"]!, options, matchTimeout), fields));
                }
                catch (ArgumentException)
                {
                    skipped++;
                }
            }

            return rules;
        }

        return new UapRegexes(Read("user_agent_parsers"), Read("os_parsers"), Read("device_parsers"), skipped);
    }
}

/// <summary>One entry of a parser list: the regex and its replacement templates by name.</summary>
public sealed class UapRule(Regex regex, IReadOnlyDictionary<string, string?> replacements)
{
    public Regex Regex { get; } = regex;

    /// <summary>The value of a field: its replacement template with $1..$9 filled in, else capture group <paramref name="group"/>; null when empty.</summary>
    public string? Field(Match match, string replacementName, int group)
    {
        if (replacements.TryGetValue(replacementName, out var template) && template is not null)
        {
            return Clean(Substitute(template, match));
        }

        return group > 0 && group < match.Groups.Count && match.Groups[group].Success ? Clean(match.Groups[group].Value) : null;
    }

    private static string Substitute(string template, Match match)
    {
        if (!template.Contains('$'))
        {
            return template;
        }

        var result = new System.Text.StringBuilder(template.Length + 16);
        for (var i = 0; i < template.Length; i++)
        {
            if (template[i] == '$' && i + 1 < template.Length && template[i + 1] is >= '1' and <= '9')
            {
                var group = template[i + 1] - '0';
                if (group < match.Groups.Count && match.Groups[group].Success)
                {
                    result.Append(match.Groups[group].Value);
                }

                i++;
            }
            else
            {
                result.Append(template[i]);
            }
        }

        return result.ToString();
    }

    private static string? Clean(string value)
    {
        var trimmed = value.Trim();
        return trimmed.Length == 0 ? null : trimmed;
    }
}
