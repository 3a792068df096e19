namespace InvexQr.Enrichment.UserAgents;

/// <summary>The <c>UserAgents</c> configuration section (env <c>UserAgents__RegexesPath</c>, ...).</summary>
public sealed class UserAgentOptions
{
    public const string Section = "UserAgents";

    /// <summary>uap-core's regexes.yaml (installed by scripts/fetch-data.sh).</summary>
    public string RegexesPath { get; set; } = ".data/npm/node_modules/uap-core/regexes.yaml";

    /// <summary>Distinct user agents whose parse is kept in memory (LRU).</summary>
    public int CacheSize { get; set; } = UserAgentCache.DefaultCapacity;

    /// <summary>Match timeout of each uap-core regex; a list whose regex times out answers "Other".</summary>
    public int MatchTimeoutMs { get; set; } = 250;
}
