using InvexQr.Enrichment.UserAgents;
using InvexQr.Abstractions;
using System.Net;
using InvexQr.Enrichment.Geo;

namespace InvexQr.Enrichment;

/// <summary>
/// Everything a scan is enriched with: location from the IP, device from the user agent. Both are
/// local lookups behind LRU caches. It runs in the gateway, before the grain call: gateways are
/// stateless and scale out, while one hot code's grain processes its scans one at a time — so the
/// expensive part (parsing a new user agent) is spread over every gateway core instead of
/// serializing inside that grain.
/// </summary>
public sealed class ScanEnricher(GeoLocator geo, IUserAgentClassifier userAgents)
{
    public (GeoLocation Location, ClientInfo Client) Enrich(IPAddress? clientIp, string? userAgent) =>
        (geo.Locate(clientIp), userAgents.Classify(userAgent));
}
