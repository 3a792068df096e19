using InvexQr.Abstractions;

namespace InvexQr.Enrichment.UserAgents;

/// <summary>Classifies a user-agent string. Implementations are thread-safe and cache by UA string.</summary>
public interface IUserAgentClassifier
{
    ClientInfo Classify(string? userAgent);
}
