using System.Text.Json.Serialization;
using InvexQr.Abstractions;
using InvexQr.Data;
using InvexQr.Gateway.Auth;
using InvexQr.Gateway.Redirects;
using InvexQr.Grains.Codes;
using InvexQr.Grains.Routing;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace InvexQr.Gateway.Api;

/// <summary>
/// Smart routing in the API: validation of a code's <c>routing</c> (create and update), the preview
/// (<c>POST /api/codes/{code}/routing/preview</c>, computed by the same <see cref="RoutingTable.Route"/> the grain runs),
/// and the owner's fallback URL (<c>/api/routing/fallback</c>).
/// </summary>
public static class RoutingApi
{
    public static IEndpointRouteBuilder MapRoutingApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api").RequireAuthorization().WithTags("Routing").ProducesProblem(StatusCodes.Status401Unauthorized);
        api.MapPost("/codes/{code}/routing/preview", PreviewAsync).WithName("PreviewRouting")
            .WithSummary("Where a scan with these traits would go: device, os, country, language, at (date-time), query, visitor; "
                + "routing and targetUrl preview unsaved changes.")
            .Accepts<RoutingPreviewRequest>("application/json")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        api.MapGet("/routing/fallback", GetFallbackAsync).WithName("GetFallback").WithSummary("The caller's fallback URL for codes that no longer redirect.");
        api.MapPut("/routing/fallback", SetFallbackAsync).WithName("SetFallback")
            .WithSummary("Set (or with null remove) the caller's fallback URL: disabled, expired or exhausted codes without one of their own send scans there instead of the 410 page. Codes in memory take it when they next load.")
            .Accepts<OwnerFallbackBody>("application/json")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status413PayloadTooLarge).ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        return endpoints;
    }

    /// <summary>Validates and normalises a code's routing; the problem naming the field, or null (with the warnings).</summary>
    public static FieldProblem? CheckRouting(
        RoutingRules? routing, IReadOnlyCollection<string> ownHosts, DateTimeOffset now, out RoutingRules? normalised, out List<RoutingProblem>? warnings)
    {
        normalised = null;
        warnings = null;
        if (routing is null)
        {
            return null;
        }

        warnings = [];
        normalised = RoutingValidation.Check(routing, ownHosts, now, out var error, warnings);
        return error is null ? null : new FieldProblem(error.Field, error.Message);
    }

    public static async Task<Results<Ok<RoutingPreviewResponse>, ProblemHttpResult>> PreviewAsync(
        string code, HttpRequest request, IClusterClient cluster, CodeLookup lookup, IOptions<GatewayOptions> options, TimeProvider clock)
    {
        var (body, error) = await JsonBody.ReadAsync<RoutingPreviewRequest>(request);
        if (body is null)
        {
            return error!;
        }

        var details = await CodesApi.FindAsync(code, request.HttpContext.User.OwnerId(), cluster, lookup);
        if (details is null)
        {
            return CodesApi.NotFound(code);
        }

        var ownHosts = CodesApi.OwnHosts(request, options.Value);
        var now = clock.GetUtcNow();
        var target = details.TargetUrl;
        if (body.TargetUrl is not null)
        {
            if (TargetUrl.Validate(body.TargetUrl, ownHosts) is { } urlError)
            {
                return JsonBody.Invalid(urlError, "targetUrl");
            }

            target = TargetUrl.Normalize(body.TargetUrl);
        }

        var routing = details.RoutingJson is null ? new RoutingRules() : RoutingRules.FromJson(details.RoutingJson);
        var warnings = new List<RoutingProblem>();
        if (body.Routing is not null)
        {
            if (CheckRouting(body.Routing, ownHosts, now, out var unsaved, out var found) is { } routingError)
            {
                return routingError.ToResult();
            }

            (routing, warnings) = (unsaved!, found!);
        }

        if (body.Device is { } device && !RoutingValidation.Devices.Contains(device))
        {
            return JsonBody.Invalid($"device must be one of {string.Join(", ", RoutingValidation.Devices)}.", "device");
        }

        if (body.Os is { } os && !OsFamily.Names.Contains(OsFamily.Of(os)))
        {
            return JsonBody.Invalid($"os must be one of {string.Join(", ", OsFamily.Names)}.", "os");
        }

        if (body.Country is { Length: not 2 })
        {
            return JsonBody.Invalid("country must be an ISO 3166-1 alpha-2 code such as FR.", "country");
        }

        if (body.Language is { Length: > 256 } || body.Query is { Length: > 2048 } || body.Visitor is { Length: > 256 })
        {
            return JsonBody.Invalid("language, query and visitor are bounded (256, 2048 and 256 characters).", "language");
        }

        var at = body.At ?? now;
        var table = RoutingTable.Compile(routing, target);
        var scan = new ScanContext(body.Device, body.Os, body.Country?.ToUpperInvariant(), body.Language, body.Query, RoutingTable.VisitorKeyOf(body.Visitor));
        var decision = table.Route(scan, at);
        var ruleId = decision.Route.Split('/')[0];
        var split = (routing.Rules ?? []).FirstOrDefault(r => r.Id == ruleId)?.Split;
        var total = split?.Sum(v => v.Weight) ?? 0;
        return TypedResults.Ok(new RoutingPreviewResponse(
            decision.Target,
            decision.Route,
            at,
            split is null || !decision.Route.Contains('/')
                ? null
                : [.. split.Select(v => new RoutingPreviewVariant($"{ruleId}/{v.Id}", v.Target!, v.Weight, total == 0 ? 0 : (double)v.Weight / total))],
            warnings));
    }

    public static async Task<Ok<OwnerFallbackBody>> GetFallbackAsync(HttpContext http, OwnerFallbacks fallbacks) =>
        TypedResults.Ok(new OwnerFallbackBody(await fallbacks.GetAsync(http.User.OwnerId(), http.RequestAborted)));

    public static async Task<Results<Ok<OwnerFallbackBody>, ProblemHttpResult>> SetFallbackAsync(HttpRequest request, OwnerFallbacks fallbacks, IOptions<GatewayOptions> options)
    {
        var (body, fields, error) = await JsonBody.ReadWithFieldsAsync<OwnerFallbackBody>(request);
        if (body is null)
        {
            return error!;
        }

        if (!fields.Contains("fallbackUrl"))
        {
            return JsonBody.Invalid("fallbackUrl is required (null removes it).", "fallbackUrl");
        }

        string? url = null;
        if (body.FallbackUrl is not null)
        {
            if (TargetUrl.Validate(body.FallbackUrl, CodesApi.OwnHosts(request, options.Value)) is { } urlError)
            {
                return JsonBody.Invalid(urlError.Replace("targetUrl", "fallbackUrl", StringComparison.Ordinal), "fallbackUrl");
            }

            url = TargetUrl.Normalize(body.FallbackUrl);
        }

        await fallbacks.SetAsync(request.HttpContext.User.OwnerId(), url, request.HttpContext.RequestAborted);
        return TypedResults.Ok(new OwnerFallbackBody(url));
    }
}

/// <summary>A scan to preview. Every trait is optional; <c>at</c> defaults to now.</summary>
/// <param name="Os">An OS family (<c>ios</c>, <c>android</c>…) or an OS name as user agents give it (<c>iOS</c>, <c>Mac OS X</c>).</param>
/// <param name="Language">An <c>Accept-Language</c> value (<c>fr-CA,fr;q=0.9</c>) or just a language (<c>fr</c>).</param>
/// <param name="Visitor">Any text naming a visitor: the same text lands in the same A/B variant.</param>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record RoutingPreviewRequest(
    [property: System.ComponentModel.DataAnnotations.AllowedValues("mobile", "tablet", "desktop", "bot", "other")] string? Device = null,
    string? Os = null,
    string? Country = null,
    string? Language = null,
    DateTimeOffset? At = null,
    string? Query = null,
    string? Visitor = null,
    RoutingRules? Routing = null,
    string? TargetUrl = null);

/// <param name="Route">The rule (<c>rule</c> or <c>rule/variant</c>) that decided, or <c>default</c>.</param>
/// <param name="Split">When an A/B split decided: every variant with its weight and expected share.</param>
public sealed record RoutingPreviewResponse(
    string Target, string Route, DateTimeOffset At, IReadOnlyList<RoutingPreviewVariant>? Split, IReadOnlyList<RoutingProblem> Warnings);

public sealed record RoutingPreviewVariant(string Route, string Target, int Weight, double Share);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record OwnerFallbackBody(string? FallbackUrl);
