using System.Text;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace InvexQr.Enrichment.UserAgents;

/// <summary>
/// The three ordered rule lists of uap-core's <c>regexes.yaml</c> (<c>user_agent_parsers</c>,
/// <c>os_parsers</c>, <c>device_parsers</c>), read with YamlDotNet and compiled once.
/// <para>
/// Each regex has a match timeout, is unanchored and case-sensitive unless the rule says <c>regex_flag: 'i'</c>.
/// It starts interpreted (loading takes ~0.1 s instead of the ~2 s compiling all of them takes, which delayed every
/// gateway start) and is compiled in the background once it has been used <see cref="UapRule.CompileAfterUses"/>
/// times (see <see cref="UapRule"/>). The rules are written for the
/// JavaScript/Python regex dialects, so they are compiled with <see cref="RegexOptions.ECMAScript"/>
/// where .NET accepts that (<c>\d</c> and <c>\w</c> mean ASCII digits and word characters there, as in
/// the reference implementation); a pattern .NET rejects in that mode is compiled in .NET's default
/// mode, and one it rejects in both is left out and listed in <see cref="Rejected"/>.
/// </para>
/// </summary>
public sealed class UapRules
{
    /// <summary>Replacement names of a <c>user_agent_parsers</c> rule: family, major, minor, patch.</summary>
    internal static readonly string[] BrowserFields = ["family_replacement", "v1_replacement", "v2_replacement", "v3_replacement"];

    /// <summary>Replacement names of an <c>os_parsers</c> rule: family, major, minor, patch, patchMinor.</summary>
    internal static readonly string[] OsFields = ["os_replacement", "os_v1_replacement", "os_v2_replacement", "os_v3_replacement", "os_v4_replacement"];

    /// <summary>Replacement names of a <c>device_parsers</c> rule: family, brand, model.</summary>
    internal static readonly string[] DeviceFields = ["device_replacement", "brand_replacement", "model_replacement"];

    private UapRules(UapRule[] browsers, UapRule[] oses, UapRule[] devices, List<string> rejected)
    {
        Browsers = browsers;
        Oses = oses;
        Devices = devices;
        Rejected = rejected;
    }

    internal UapRule[] Browsers { get; }

    internal UapRule[] Oses { get; }

    internal UapRule[] Devices { get; }

    /// <summary>"section #index: reason" for each rule that could not be compiled (expected: none).</summary>
    public IReadOnlyList<string> Rejected { get; }

    /// <summary>Reads and compiles the rules.</summary>
    /// <exception cref="YamlDotNet.Core.YamlException">The text is not YAML.</exception>
    /// <exception cref="InvalidDataException">The YAML is not shaped like regexes.yaml.</exception>
    public static UapRules Load(TextReader yaml, TimeSpan matchTimeout)
    {
        var stream = new YamlStream();
        stream.Load(yaml);
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new InvalidDataException("regexes.yaml: the document is not a mapping");
        }

        var rejected = new List<string>();
        return new UapRules(
            Read(root, "user_agent_parsers", BrowserFields, matchTimeout, rejected),
            Read(root, "os_parsers", OsFields, matchTimeout, rejected),
            Read(root, "device_parsers", DeviceFields, matchTimeout, rejected),
            rejected);
    }

    private static UapRule[] Read(YamlMappingNode root, string section, string[] fields, TimeSpan matchTimeout, List<string> rejected)
    {
        if (!root.Children.TryGetValue(new YamlScalarNode(section), out var node) || node is not YamlSequenceNode list)
        {
            throw new InvalidDataException($"regexes.yaml: no list '{section}'");
        }

        var rules = new List<UapRule>(list.Children.Count);
        for (var index = 0; index < list.Children.Count; index++)
        {
            if (list.Children[index] is not YamlMappingNode item)
            {
                throw new InvalidDataException($"regexes.yaml: {section} #{index} is not a mapping");
            }

            string? pattern = null, flag = null;
            var templates = new string?[fields.Length];
            foreach (var (key, value) in item.Children)
            {
                var name = (key as YamlScalarNode)?.Value;
                var text = (value as YamlScalarNode)?.Value;
                if (name == "regex")
                {
                    pattern = text;
                }
                else if (name == "regex_flag")
                {
                    flag = text;
                }
                else if (name is not null && Array.IndexOf(fields, name) is var field and >= 0)
                {
                    // An empty replacement counts as none (the reference implementation tests it for truth).
                    templates[field] = string.IsNullOrEmpty(text) ? null : text;
                }
            }

            if (string.IsNullOrEmpty(pattern))
            {
                throw new InvalidDataException($"regexes.yaml: {section} #{index} has no regex");
            }

            var regex = Parse(pattern, flag == "i", matchTimeout, out var error);
            if (regex is null)
            {
                rejected.Add($"{section} #{index}: {error}");
                continue;
            }

            rules.Add(new UapRule(regex, templates));
        }

        return [.. rules];
    }

    private static Regex? Parse(string pattern, bool ignoreCase, TimeSpan matchTimeout, out string? error)
    {
        var caseOption = ignoreCase ? RegexOptions.IgnoreCase : RegexOptions.None;
        error = null;
        try
        {
            return new Regex(pattern, RegexOptions.ECMAScript | caseOption, matchTimeout);
        }
        catch (ArgumentException)
        {
            // Not valid in ECMAScript mode (e.g. lookbehind, \p{..}): .NET's own dialect.
        }

        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant | caseOption, matchTimeout);
        }
        catch (ArgumentException ex)
        {
            error = ex.Message;
            return null;
        }
    }
}

/// <summary>
/// One rule: its regex and, per output field, a replacement template or null. A field is its
/// template with <c>$1</c>..<c>$9</c> replaced by the captures (a group that did not take part
/// gives ""), trimmed; without a template it is the field's default capture group. Empty means
/// "not defined" (null).
/// <para>
/// The regex is interpreted until the rule has been tried <see cref="CompileAfterUses"/> times, then compiled
/// (<see cref="RegexOptions.Compiled"/>, ~2.2 times faster) by <see cref="BackgroundRegexCompiler"/> and swapped in:
/// with the parse cache in front, a gateway that sees few distinct user agents never pays for compiling ~1,200
/// regexes, and one that sees many compiles the rules they reach within seconds, off the scan path.
/// </para>
/// </summary>
internal sealed class UapRule(Regex regex, string?[] templates)
{
    /// <summary>Tries of an interpreted regex before it is queued for compiling.</summary>
    public const int CompileAfterUses = 64;

    private Regex _regex = regex;
    private int _uses;

    /// <summary>The regex in use: interpreted, then compiled.</summary>
    public Regex Regex => Volatile.Read(ref _regex);

    public bool IsCompiled => (Regex.Options & RegexOptions.Compiled) != 0;

    /// <summary>Matches with the regex in use, counting the tries of an interpreted one.</summary>
    public Match Match(string input)
    {
        var regex = Volatile.Read(ref _regex);
        if (_uses < CompileAfterUses && Interlocked.Increment(ref _uses) == CompileAfterUses)
        {
            BackgroundRegexCompiler.Enqueue(this);
        }

        return regex.Match(input);
    }

    /// <summary>Compiles the regex, runs it once (so its first real match does not wait for the JIT) and swaps it in.</summary>
    internal void Compile(string probe)
    {
        var interpreted = Regex;
        var compiled = new Regex(interpreted.ToString(), interpreted.Options | RegexOptions.Compiled, interpreted.MatchTimeout);
        try
        {
            compiled.IsMatch(probe);
        }
        catch (RegexMatchTimeoutException)
        {
            // Only warming up.
        }

        Volatile.Write(ref _regex, compiled);
    }

    /// <summary>Field <paramref name="field"/> of a match; <paramref name="defaultGroup"/> 0 means "no default group".</summary>
    public string? Field(Match match, int field, int defaultGroup)
    {
        var template = templates[field];
        if (template is not null)
        {
            var value = Substitute(template, match).Trim();
            return value.Length == 0 ? null : value;
        }

        if (defaultGroup > 0 && defaultGroup < match.Groups.Count)
        {
            var group = match.Groups[defaultGroup];
            return group.Success && group.Length > 0 ? group.Value : null;
        }

        return null;
    }

    private static string Substitute(string template, Match match)
    {
        var dollar = template.IndexOf('$');
        if (dollar < 0)
        {
            return template;
        }

        var result = new StringBuilder(template.Length + 32);
        result.Append(template, 0, dollar);
        for (var i = dollar; i < template.Length; i++)
        {
            var c = template[i];
            if (c == '$' && i + 1 < template.Length && template[i + 1] is >= '1' and <= '9')
            {
                var group = template[i + 1] - '0';
                if (group < match.Groups.Count && match.Groups[group].Success)
                {
                    result.Append(match.Groups[group].ValueSpan);
                }

                i++;
            }
            else
            {
                result.Append(c);
            }
        }

        return result.ToString();
    }
}
