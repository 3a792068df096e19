namespace InvexQr.Enrichment.UserAgents;

/// <summary>
/// What uap-core's rules say about one user agent, plus our device type. Families are never null:
/// no matching rule gives <c>"Other"</c> (as the uap-core specification says); versions, brand and
/// model are null when the rules say nothing.
/// </summary>
/// <param name="DeviceType">One of <see cref="DeviceTypes"/>; see <see cref="DeviceClassifier"/> for the rules.</param>
public sealed record UserAgentInfo(BrowserInfo Browser, OsInfo Os, DeviceInfo Device, string DeviceType)
{
    /// <summary>The family of a parser list with no matching rule.</summary>
    public const string OtherFamily = "Other";

    /// <summary>
    /// An empty or missing user agent: nothing to parse, and a bot — every browser and in-app web view
    /// sends a user agent, so its absence marks a script (issue #3's rule).
    /// </summary>
    public static readonly UserAgentInfo Unknown = new(BrowserInfo.Other, OsInfo.Other, DeviceInfo.Other, DeviceTypes.Bot);

    public bool IsBot => DeviceType == DeviceTypes.Bot;

    internal static string? JoinVersion(params ReadOnlySpan<string?> parts)
    {
        if (parts.Length == 0 || parts[0] is null)
        {
            return null;
        }

        var version = parts[0]!;
        for (var i = 1; i < parts.Length && parts[i] is not null; i++)
        {
            version += "." + parts[i];
        }

        return version;
    }
}

/// <summary>The <c>user_agent_parsers</c> answer: the browser (or app, or crawler) and its version.</summary>
public sealed record BrowserInfo(string Family, string? Major, string? Minor, string? Patch)
{
    public static readonly BrowserInfo Other = new(UserAgentInfo.OtherFamily, null, null, null);

    /// <summary>"major.minor.patch", as far as known; null without a major version.</summary>
    public string? Version => UserAgentInfo.JoinVersion(Major, Minor, Patch);
}

/// <summary>The <c>os_parsers</c> answer: the operating system and its version.</summary>
public sealed record OsInfo(string Family, string? Major, string? Minor, string? Patch, string? PatchMinor)
{
    public static readonly OsInfo Other = new(UserAgentInfo.OtherFamily, null, null, null, null);

    /// <summary>"major.minor.patch.patchMinor", as far as known; null without a major version.</summary>
    public string? Version => UserAgentInfo.JoinVersion(Major, Minor, Patch, PatchMinor);
}

/// <summary>The <c>device_parsers</c> answer: device family, brand (manufacturer) and model.</summary>
public sealed record DeviceInfo(string Family, string? Brand, string? Model)
{
    public static readonly DeviceInfo Other = new(UserAgentInfo.OtherFamily, null, null);
}

/// <summary>The device types the dashboard counts scans by.</summary>
public static class DeviceTypes
{
    public const string Mobile = "mobile";
    public const string Tablet = "tablet";
    public const string Desktop = "desktop";
    public const string Bot = "bot";
    public const string Other = "other";
}
