using System.Globalization;
using System.Text.Json;
using InvexQr.Abstractions;
using InvexQr.Gateway.Api;
using InvexQr.Gateway.Auth;
using InvexQr.Gateway.Redirects;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace InvexQr.Gateway.Live;

/// <summary>
/// The live view: Server-Sent Events of the scans of one code (<c>GET /api/codes/{code}/live</c>) or of all the
/// caller's codes (<c>GET /api/live</c>), authenticated like the API (key or dashboard session). Events:
/// <c>hello</c> (the starting totals), then <c>scans</c> at most every <c>Live:MinUpdateIntervalMs</c>:
/// scans since the last event, totals, scans per second over the last 2 s, and the latest scans' code, time and
/// stored location (country, city, coordinates; never an address). Comment lines keep a quiet stream open.
/// </summary>
public static class LiveEndpoints
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static WebApplicationBuilder AddLiveView(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<LiveOptions>().Bind(builder.Configuration.GetSection(LiveOptions.Section))
            .Validate(o => o.Validate() is null, "Live:* settings out of range (see LiveOptions).").ValidateOnStart();
        builder.Services.AddSingleton<LiveFeed>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LiveFeed>());
        return builder;
    }

    public static IEndpointRouteBuilder MapLiveView(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/codes/{code}/live", CodeAsync).RequireAuthorization().WithTags("Live").WithName("WatchCode")
            .WithSummary("Scans of one code as they happen (text/event-stream).")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status429TooManyRequests)
            .DisableRequestTimeout();
        endpoints.MapGet("/api/live", (Delegate)AccountAsync).RequireAuthorization().WithTags("Live").WithName("WatchAccount")
            .WithSummary("Scans of all the caller's codes as they happen (text/event-stream).")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status429TooManyRequests)
            .DisableRequestTimeout();
        return endpoints;
    }

    private static async Task CodeAsync(string code, HttpContext context, IClusterClient cluster, CodeLookup lookup)
    {
        var ownerId = context.User.OwnerId();
        // Another owner's code answers like an unknown one, as everywhere in the API.
        if (await CodesApi.FindAsync(code, ownerId, cluster, lookup) is not { } details)
        {
            await CodesApi.NotFound(code).ExecuteAsync(context);
            return;
        }

        await StreamAsync(context, new LiveTopic(ownerId, details.Code), details.TotalScans);
    }

    private static Task AccountAsync(HttpContext context) => StreamAsync(context, new LiveTopic(context.User.OwnerId(), null), null);

    private static async Task StreamAsync(HttpContext context, LiveTopic topic, long? total)
    {
        var services = context.RequestServices;
        var feed = services.GetRequiredService<LiveFeed>();
        var options = services.GetRequiredService<IOptions<LiveOptions>>().Value;
        var clock = services.GetRequiredService<TimeProvider>();
        var stopping = services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        if (feed.TryOpen(topic, out var refusal) is not { } viewer)
        {
            context.Response.Headers.RetryAfter = "10";
            await Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many live streams.", detail: refusal)
                .ExecuteAsync(context);
            return;
        }

        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        var cancel = ended.Token;
        try
        {
            var response = context.Response;
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-store";
            response.Headers["X-Accel-Buffering"] = "no";
            context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();
            long sinceOpen = 0;
            var heartbeat = TimeSpan.FromSeconds(options.HeartbeatSeconds);
            var minInterval = TimeSpan.FromMilliseconds(options.MinUpdateIntervalMs);
            var recheck = TimeSpan.FromSeconds(options.RecheckSeconds);
            var lastWrite = clock.GetTimestamp();
            var lastCheck = lastWrite;
            var lastRate = 0.0;
            await WriteAsync(context, options, "retry: 5000\nevent: hello\ndata: " + JsonSerializer.Serialize(
                new { code = topic.Code, total, rate = 0.0, heartbeatSeconds = options.HeartbeatSeconds }, Json) + "\n\n", cancel);

            while (!cancel.IsCancellationRequested)
            {
                // While the rate is above 0, wake every second so that it falls back to 0 once scans stop.
                var signalled = await viewer.WaitAsync(lastRate > 0 ? TimeSpan.FromSeconds(1) : heartbeat, cancel);
                if (clock.GetElapsedTime(lastCheck) >= recheck)
                {
                    lastCheck = clock.GetTimestamp();
                    if (await StillAllowedAsync(context, topic.OwnerId) is { } reason)
                    {
                        await WriteAsync(context, options, "event: end\ndata: " + JsonSerializer.Serialize(new { reason }, Json) + "\n\n", cancel);
                        return;
                    }
                }

                var update = viewer.Take();
                if (update.Scans > 0 || update.Gap || update.Rate != lastRate)
                {
                    sinceOpen += update.Scans;
                    total += update.Scans;
                    lastRate = update.Rate;
                    await WriteAsync(context, options, "event: scans\ndata: " + JsonSerializer.Serialize(new
                    {
                        code = topic.Code,
                        scans = update.Scans,
                        total,
                        sinceOpen,
                        rate = update.Rate,
                        gap = update.Gap,
                        recent = update.Recent.Select(s => new
                        {
                            code = s.Code,
                            at = s.At,
                            country = s.CountryCode,
                            city = s.City,
                            latitude = s.Latitude,
                            longitude = s.Longitude,
                        }),
                    }, Json) + "\n\n", cancel);
                    lastWrite = clock.GetTimestamp();
                    // Coalescing: whatever arrives during this pause goes into the next event.
                    await Task.Delay(minInterval, clock, cancel);
                }
                else if (!signalled && clock.GetElapsedTime(lastWrite) >= heartbeat)
                {
                    await WriteAsync(context, options, ": heartbeat " + clock.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) + "\n\n", cancel);
                    lastWrite = clock.GetTimestamp();
                }
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // The viewer left, or the gateway is stopping: the stream ends.
        }
        finally
        {
            feed.Close(viewer);
        }
    }

    /// <summary>Writes and flushes one event; a viewer that does not take it within the write timeout is disconnected.</summary>
    private static async Task WriteAsync(HttpContext context, LiveOptions options, string text, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.WriteTimeoutSeconds));
        try
        {
            await context.Response.WriteAsync(text, timeout.Token);
            await context.Response.Body.FlushAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            context.Abort();
            throw new OperationCanceledException("The viewer stopped reading.", cancellationToken);
        }
    }

    /// <summary>Authenticates the request again (a fresh handler: no cached result): a revoked key or ended session ends the stream.</summary>
    private static async Task<string?> StillAllowedAsync(HttpContext context, long ownerId)
    {
        using var scope = context.RequestServices.CreateScope();
        var handlers = scope.ServiceProvider.GetRequiredService<IAuthenticationHandlerProvider>();
        var handler = await handlers.GetHandlerAsync(context, ApiKeyAuthenticationHandler.SchemeName);
        var result = handler is null ? null : await handler.AuthenticateAsync();
        return result is { Succeeded: true } && result.Principal.OwnerId() == ownerId ? null : "The key or session behind this stream is no longer valid.";
    }
}
