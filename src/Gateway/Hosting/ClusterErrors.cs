using InvexQr.Grains.Scans;
using Microsoft.AspNetCore.Diagnostics;

namespace InvexQr.Gateway.Hosting;

/// <summary>
/// Maps failures of the cluster (a silo going away, a call timing out, a sink that refused a scan)
/// to <c>503</c> with <c>Retry-After</c>: the request was fine, the service is briefly unable.
/// Anything else stays a 500 problem — a bug to fix, not an answer to bad input.
/// </summary>
public sealed class ClusterErrors(ILogger<ClusterErrors> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        if (!IsTransient(exception))
        {
            return false;
        }

        logger.LogWarning("Cluster unavailable for {Path}: {Error}", http.Request.Path, exception.Message);
        http.Response.Headers.RetryAfter = "1";
        await Results.Problem(
            statusCode: StatusCodes.Status503ServiceUnavailable,
            title: "Temporarily unavailable.",
            detail: "The service could not complete the request; retry in a moment.").ExecuteAsync(http);
        return true;
    }

    private static bool IsTransient(Exception exception) => exception switch
    {
        ScanNotRecordedException or TimeoutException or SiloUnavailableException or OrleansMessageRejectionException
            or OrleansException => true,
        AggregateException aggregate => aggregate.InnerExceptions.All(IsTransient),
        _ => false,
    };
}
