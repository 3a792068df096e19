using System.Diagnostics;
using InvexQr.Abstractions;
using InvexQr.Gateway.Hosting;
using InvexQr.Grains.Codes;
using InvexQr.Enrichment;
using InvexQr.Grains.Scans;
using Microsoft.Net.Http.Headers;

namespace InvexQr.Gateway.Redirects;

/// <summary>
/// The scan: <c>GET /r/{code}</c> → one grain call → <c>302</c> to the target. <c>HEAD</c> answers
/// the same and records nothing. Malformed codes are rejected before any cluster call, and a client
/// that keeps asking for codes that do not exist is refused (429) before any lookup (<see cref="UnknownCodeGuard"/>).
/// </summary>
public static class RedirectEndpoints
{
    public static IEndpointRouteBuilder MapRedirects(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapMethods("/r/{code}", [HttpMethods.Get, HttpMethods.Head], ScanAsync)
            .WithName("Scan")
            .WithSummary("Scan a code: 302 to its target; 404 unknown; 410 disabled, expired or out of scans; 429 too many scans from one address.")
            .AllowAnonymous()
            .WithTags("Scans")
            .Produces(StatusCodes.Status302Found)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status410Gone)
            .ProducesProblem(StatusCodes.Status429TooManyRequests).ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            // Answered by the routing middleware, skipping the owners' middleware after it (Program.cs).
            .ShortCircuit();
        return endpoints;
    }

    public static async Task<IResult> ScanAsync(
        string code, HttpContext http, IClusterClient cluster, CodeLookup lookup, UnknownCodeGuard guard, ScanEnricher enricher, GatewayMetrics metrics)
    {
        var started = Stopwatch.GetTimestamp();
        // Until an answer is chosen, the outcome is the one an exception leads to (ClusterErrors → 503).
        var outcome = GatewayMetrics.Unavailable;
        try
        {
            // Redirect answers must never be cached: a cached 302 hides repeat scans and target edits.
            http.Response.Headers.CacheControl = "no-store";

            if (!lookup.IsKnown(code))
            {
                // Unknown to this gateway: a lookup may be needed, and clients that keep guessing are cut off.
                var client = http.ClientAddress();
                if (!guard.MayLookUp(client))
                {
                    outcome = GatewayMetrics.Throttled;
                    return ScanErrorPages.TooManyScans(http, guard.RetryAfter);
                }

                if (!CodeFormat.IsWellFormed(code) || !await lookup.ExistsAsync(code))
                {
                    guard.Missed(client);
                    outcome = GatewayMetrics.NotFound;
                    return ScanErrorPages.NotFound(http, code);
                }
            }

            var grain = cluster.GetGrain<IQrCodeGrain>(code);
            ScanResult result;
            var isBot = false;
            if (HttpMethods.IsHead(http.Request.Method))
            {
                result = await grain.Resolve();
            }
            else
            {
                var clientIp = http.ClientAddress();
                var userAgent = Header(http, HeaderNames.UserAgent);
                var (location, client) = enricher.Enrich(clientIp, userAgent);
                isBot = client.IsBot;
                // The id and time are fixed here, so that a retry (ScanRetry) can only ever lead to the same row.
                var scannedAt = DateTimeOffset.UtcNow;
                var request = new ScanRequest(
                    clientIp?.ToString(), userAgent, Header(http, HeaderNames.Referer), location, client, AsksNotToBeTracked(http.Request),
                    ScanIds.NewId(scannedAt), scannedAt);
                result = await ScanRetry.ScanAsync(grain, request, metrics, http.RequestAborted);
            }

            if (result.Outcome == ScanOutcome.NotFound)
            {
                lookup.MarkMissing(code); // deleted since this gateway learned it
            }

            (outcome, var answer) = result.Outcome switch
            {
                ScanOutcome.Redirect => (isBot ? GatewayMetrics.Bot : GatewayMetrics.Redirect, Results.Redirect(result.TargetUrl!, permanent: false)),
                ScanOutcome.Gone => (GatewayMetrics.Gone, ScanErrorPages.Gone(http, code, result.GoneReason)),
                ScanOutcome.Throttled => (GatewayMetrics.Throttled, ScanErrorPages.TooManyScans(http, result.RetryAfter)),
                _ => (GatewayMetrics.NotFound, ScanErrorPages.NotFound(http, code)),
            };
            return answer;
        }
        finally
        {
            metrics.Scanned(outcome, Stopwatch.GetElapsedTime(started));
        }
    }

    /// <summary>Global Privacy Control or Do Not Track; whether it is honoured is the silo's <c>Privacy:HonorDoNotTrack</c>.</summary>
    private static bool AsksNotToBeTracked(HttpRequest request) =>
        request.Headers["Sec-GPC"].ToString().Trim() == "1" || request.Headers["DNT"].ToString().Trim() == "1";

    private static string? Header(HttpContext http, string name)
    {
        var value = http.Request.Headers[name].ToString();
        return value.Length == 0 ? null : Truncate(value, 1024);
    }

    private static string Truncate(string value, int max) => value.Length <= max ? value : value[..max];
}
