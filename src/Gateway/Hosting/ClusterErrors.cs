using InvexQr.Abstractions;
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

        logger.LogWarning("Cluster unavailable for {Path}: {Error} ({ExceptionType})", http.Request.Path, exception.Message, exception.GetType().Name);
        http.Response.Headers.RetryAfter = "1";
        await Results.Problem(
            statusCode: StatusCodes.Status503ServiceUnavailable,
            title: "Temporarily unavailable.",
            detail: "The service could not complete the request; retry in a moment.").ExecuteAsync(http);
        return true;
    }

    public static bool IsTransient(Exception exception) => exception switch
    {
        ScanNotRecordedException or TimeoutException or SiloUnavailableException or OrleansMessageRejectionException
            or OrleansException or DatabaseUnavailableException => true,
        // The gateway's own reads (stats, CSV, key lookups) when PostgreSQL is down.
        System.Data.Common.DbException when DatabaseUnavailableException.IsUnavailable(exception) => true,
        AggregateException aggregate => aggregate.InnerExceptions.All(IsTransient),
        _ => false,
    };
}

/// <summary>
/// A request the HTTP server itself found unacceptable while the application read it (a body over
/// the size limit, a body that stopped arriving): the server's own status (413, 408, 400) as a
/// problem, not a 500.
/// </summary>
public sealed partial class BadRequestErrors : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad || http.Response.HasStarted)
        {
            return false;
        }

        // A query value of the wrong type (limit=ten): the same validation problem, naming the parameter, as a value out of range.
        if (bad.StatusCode == StatusCodes.Status400BadRequest && BindFailure().Match(bad.Message) is { Success: true } failure)
        {
            var name = failure.Groups["name"].Value;
            name = char.ToLowerInvariant(name[0]) + name[1..];
            await Api.JsonBody.Invalid(new Dictionary<string, string[]> { [name] = [bad.Message] }, "Bad request.", bad.Message).ExecuteAsync(http);
            return true;
        }

        await Results.Problem(
            statusCode: bad.StatusCode,
            title: bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Request body too large." : "Bad request.",
            detail: bad.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? $"Request bodies may be at most {HttpHardening.MaxBodyBytes / 1024} KB."
                : bad.StatusCode == StatusCodes.Status400BadRequest && bad.Message.StartsWith("Failed to bind parameter", StringComparison.Ordinal)
                    ? bad.Message
                    : "The request could not be read.").ExecuteAsync(http);
        return true;
    }

    // The framework's message: Failed to bind parameter "int? Limit" from "ten".
    [System.Text.RegularExpressions.GeneratedRegex("^Failed to bind parameter \"[^\"]* (?<name>[A-Za-z_][A-Za-z0-9_]*)\" from ")]
    private static partial System.Text.RegularExpressions.Regex BindFailure();
}
