namespace InvexQr.Grains.Enrichment.UserAgents;

/// <summary>The <c>UserAgents</c> configuration section (env <c>UserAgents__RegexesPath</c>, ...).</summary>
public sealed class UserAgentOptions
{
    public const string Section = "UserAgents";

    /// <summary>uap-core's regexes.yaml.</summary>
    public string RegexesPath { get; set; } = ".data/npm/node_modules/uap-core/regexes.yaml";

    /// <summary>Distinct user agents whose classification is kept in memory.</summary>
    public int CacheSize { get; set; } = 20_000;

    public int MatchTimeoutMs { get; set; } = 50;
}
