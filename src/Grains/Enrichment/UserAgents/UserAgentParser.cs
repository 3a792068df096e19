using System.Text.RegularExpressions;
using InvexQr.Grains.Caching;

namespace InvexQr.Grains.Enrichment.UserAgents;

/// <summary>The full uap-core answer for one user agent.</summary>
public sealed record UserAgentDetails(
    string BrowserFamily, string? BrowserMajor, string? BrowserMinor, string? BrowserPatch,
    string OsFamily, string? OsMajor, string? OsMinor, string? OsPatch,
    string DeviceFamily, string? DeviceBrand, string? DeviceModel)
{
    public const string Other = "Other";
}

/// <summary>
/// A user-agent parser of our own over uap-core's rules (the data behind every ua-parser port),
/// following its specification: each list is tried in order, the first match wins, replacements
/// fill $1..$9; no match is "Other". User agents longer than <see cref="MaxLength"/> are cut first
/// to bound the regex work; a regex that times out counts as no match.
/// </summary>
public sealed class UserAgentParser(UapRegexes rules)
{
    public const int MaxLength = 512;

    public UapRegexes Rules => rules;

    public UserAgentDetails Parse(string? userAgent)
    {
        var ua = string.IsNullOrEmpty(userAgent) ? string.Empty : userAgent.Length > MaxLength ? userAgent[..MaxLength] : userAgent;

        var (browserRule, browser) = FirstMatch(rules.UserAgents, ua);
        var (osRule, os) = FirstMatch(rules.Oses, ua);
        var (deviceRule, device) = FirstMatch(rules.Devices, ua);

        return new UserAgentDetails(
            browserRule?.Field(browser!, "family_replacement", 1) ?? UserAgentDetails.Other,
            browserRule?.Field(browser!, "v1_replacement", 2),
            browserRule?.Field(browser!, "v2_replacement", 3),
            browserRule?.Field(browser!, "v3_replacement", 4),
            osRule?.Field(os!, "os_replacement", 1) ?? UserAgentDetails.Other,
            osRule?.Field(os!, "os_v1_replacement", 2),
            osRule?.Field(os!, "os_v2_replacement", 3),
            osRule?.Field(os!, "os_v3_replacement", 4),
            deviceRule?.Field(device!, "device_replacement", 1) ?? UserAgentDetails.Other,
            deviceRule?.Field(device!, "brand_replacement", 0),
            deviceRule?.Field(device!, "model_replacement", 1));
    }

    private static (UapRule? Rule, Match? Match) FirstMatch(IReadOnlyList<UapRule> list, string ua)
    {
        if (ua.Length == 0)
        {
            return (null, null);
        }

        foreach (var rule in list)
        {
            try
            {
                var match = rule.Regex.Match(ua);
                if (match.Success)
                {
                    return (rule, match);
                }
            }
            catch (RegexMatchTimeoutException)
            {
                // A pathological string against this rule: treat as no match and go on.
            }
        }

        return (null, null);
    }
}
