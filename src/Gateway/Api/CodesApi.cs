using InvexQr.Gateway.Auth;
using InvexQr.Gateway.Redirects;
using InvexQr.Abstractions;
using InvexQr.Grains.Codes;
using InvexQr.Grains.Routing;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace InvexQr.Gateway.Api;

/// <summary>The management API for codes: <c>/api/codes</c>. Every route requires an API key.</summary>
public static class CodesApi
{
    private static readonly HashSet<string> ReservedCodes = new(StringComparer.OrdinalIgnoreCase)
    {
        "api", "health", "metrics", "admin", "dashboard", "openapi", "swagger", "static", "assets", "login", "logout",
    };

    public static IEndpointRouteBuilder MapCodesApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/codes").RequireAuthorization().WithTags("Codes").ProducesProblem(StatusCodes.Status401Unauthorized);
        // Bodies are read by JsonBody (problem+json for every malformed body), so Accepts names their schema.
        api.MapPost("/", CreateAsync).WithName("CreateCode").WithSummary("Create a code (random or custom slug).")
            .Accepts<CreateCodeRequest>("application/json")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge).ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        api.MapGet("/", ListAsync).WithName("ListCodes").WithSummary("The caller's codes, newest first unless sort=createdAt; pages by cursor.")
            .ProducesValidationProblem();
        api.MapGet("/{code}", GetAsync).WithName("GetCode").WithSummary("One code.").ProducesProblem(StatusCodes.Status404NotFound);
        api.MapDelete("/{code}", DeleteAsync).WithName("DeleteCode").WithSummary("Delete a code and all its scans.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        api.MapPatch("/{code}", UpdateAsync).WithName("UpdateCode")
            .WithSummary("Change a code's target, title, tags, status, expiry, scan budget or routing.")
            .Accepts<UpdateCodeRequest>("application/json")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge).ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        return endpoints;
    }

    public static async Task<Results<Created<CodeResponse>, ProblemHttpResult>> CreateAsync(
        HttpRequest request, IClusterClient cluster, CodeLookup lookup, IOptions<GatewayOptions> options, TimeProvider clock,
        IOptions<OwnerLimits> limits, InvexQr.Data.OwnerCodeCounts counts)
    {
        var ownerId = request.HttpContext.User.OwnerId();
        var (body, error) = await JsonBody.ReadAsync<CreateCodeRequest>(request);
        if (body is null)
        {
            return error!;
        }

        var isAdmin = request.HttpContext.User.IsInRole(Roles.Admin);
        var rules = new CreateRules(OwnHosts(request, options.Value), clock.GetUtcNow(), isAdmin, limits.Value);
        if (CheckCreate(body, ownerId, rules, out var command, out var warnings) is { } problem)
        {
            return problem.ToResult();
        }

        if (!isAdmin && await counts.CountAsync(ownerId, request.HttpContext.RequestAborted) >= limits.Value.MaxCodes)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Code quota reached.",
                detail: $"An owner may have at most {limits.Value.MaxCodes} codes (Owners:MaxCodes); delete some first.");
        }

        if (body.Code is not null)
        {
            var created = await CreateOrRefuseAsync(cluster.GetGrain<IQrCodeGrain>(body.Code), command!);
            if (created.Refused is { } refused)
            {
                return refused;
            }

            return created.Details is null
                ? TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Code taken.",
                    detail: $"The code '{body.Code}' exists already (codes are unique whatever their case), or was another owner's.")
                : Created(created.Details, request, lookup, options.Value, warnings);
        }

        // Random codes: a collision is astronomically rare at the default length, but retried anyway.
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var code = CodeGenerator.NewCode(options.Value.RandomCodeLength);
            var created = await CreateOrRefuseAsync(cluster.GetGrain<IQrCodeGrain>(code), command!);
            if (created.Refused is { } refused)
            {
                return refused;
            }

            if (created.Details is not null)
            {
                return Created(created.Details, request, lookup, options.Value, warnings);
            }
        }

        return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Could not allocate a free code; try again.");
    }

    /// <summary>What a create is checked against besides its body.</summary>
    /// <param name="OwnHosts">Where our short URLs live: a target there would loop.</param>
    public sealed record CreateRules(IReadOnlyCollection<string> OwnHosts, DateTimeOffset Now, bool IsAdmin, OwnerLimits Limits);

    /// <summary>
    /// Every check <c>POST /api/codes</c> makes of a body before the quota and the insert (the CSV import runs the same
    /// for each row): the first problem, or null with the command to run (its target normalised, its routing compiled
    /// to JSON) and the routing's warnings.
    /// </summary>
    public static FieldProblem? CheckCreate(
        CreateCodeRequest body, long ownerId, CreateRules rules, out CreateCodeCommand? command, out IReadOnlyList<RoutingProblem>? warnings)
    {
        command = null;
        warnings = null;
        if (TargetUrl.Validate(body.TargetUrl, rules.OwnHosts) is { } urlError)
        {
            return new FieldProblem("targetUrl", urlError);
        }

        var fieldProblem = CodeFieldRules.CheckOptionalFields(
            body.Title, body.Tags, body.ExpiresAt, body.MaxScans, body.ThrottleBurst, body.ThrottlePerMinute, rules.Now, out var tags);
        var routingProblem = RoutingApi.CheckRouting(body.Routing, rules.OwnHosts, rules.Now, out var routing, out var found);
        if ((fieldProblem ?? routingProblem ?? OverCeiling(rules.IsAdmin, rules.Limits, body.ThrottleBurst, body.ThrottlePerMinute) ?? CheckSlug(body.Code))
            is { } problem)
        {
            return problem;
        }

        warnings = found;
        command = new CreateCodeCommand(
            TargetUrl.Normalize(body.TargetUrl!), body.Title, ownerId, tags, body.ExpiresAt, body.MaxScans, body.ThrottleBurst, body.ThrottlePerMinute,
            routing?.ToJson());
        return null;
    }

    private static FieldProblem? CheckSlug(string? code) =>
        code is null ? null
        : !CodeFormat.IsWellFormed(code) ? new FieldProblem("code", $"code must be {CodeFormat.MinLength}-{CodeFormat.MaxLength} characters of A-Z, a-z, 0-9, '-' and '_'.")
        : ReservedCodes.Contains(code) ? new FieldProblem("code", $"code '{code}' is reserved.")
        : null;

    /// <summary>An owner's throttle overrides may lower a code's limits, or raise them up to the operator's ceiling (admins: the hard bounds).</summary>
    private static FieldProblem? OverCeiling(bool isAdmin, OwnerLimits limits, int? burst, int? perMinute)
    {
        if (isAdmin)
        {
            return null;
        }

        return burst > limits.MaxThrottleBurst
            ? new FieldProblem("throttleBurst", $"throttleBurst may be at most {limits.MaxThrottleBurst} (the operator's ceiling, Owners:MaxThrottleBurst).")
            : perMinute > limits.MaxThrottlePerMinute
                ? new FieldProblem("throttlePerMinute", $"throttlePerMinute may be at most {limits.MaxThrottlePerMinute} (the operator's ceiling, Owners:MaxThrottlePerMinute).")
                : null;
    }

    private static async Task<(CodeDetails? Details, ProblemHttpResult? Refused)> CreateOrRefuseAsync(IQrCodeGrain grain, CreateCodeCommand command)
    {
        try
        {
            return (await grain.Create(command), null);
        }
        catch (OwnerErasingException)
        {
            return (null, TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Owner being erased.",
                detail: "This owner is being erased: its keys are revoked and it can create no codes."));
        }
    }

    public static async Task<Results<Ok<CodeResponse>, ProblemHttpResult>> GetAsync(
        string code, HttpRequest request, IClusterClient cluster, CodeLookup lookup, IOptions<GatewayOptions> options)
    {
        var details = await FindAsync(code, request.HttpContext.User.OwnerId(), cluster, lookup);
        return details is null ? NotFound(code) : TypedResults.Ok(CodeResponse.From(details, ShortUrl(details.Code, request, options.Value)));
    }

    public static async Task<Results<Ok<CodeListPage>, ProblemHttpResult>> ListAsync(
        [AsParameters] CodeListParameters query, HttpRequest request, IClusterClient cluster, IOptions<GatewayOptions> options, TimeProvider clock)
    {
        if (query.Limit is < 1 or > 100)
        {
            return JsonBody.Invalid("limit must be a whole number from 1 to 100.", "limit");
        }

        DateTimeOffset? afterCreatedAt = null;
        long? afterId = null;
        if (query.Cursor is not null)
        {
            if (!PageCursor.TryParse(query.Cursor, out var createdAt, out var id))
            {
                return JsonBody.Invalid("cursor is not one this API returned.", "cursor");
            }

            (afterCreatedAt, afterId) = (createdAt, id);
        }

        var search = query.Q ?? string.Empty;
        if (search.Length > 200 || CodeFieldRules.HasControlCharacters(search))
        {
            return JsonBody.Invalid("q must be at most 200 characters, without control characters.", "q");
        }

        var tag = query.Tag ?? string.Empty;
        if (tag.Length > CodeFieldRules.MaxTagLength || CodeFieldRules.HasControlCharacters(tag))
        {
            return JsonBody.Invalid($"tag must be at most {CodeFieldRules.MaxTagLength} characters, without control characters.", "tag");
        }

        var sort = query.Sort ?? string.Empty;
        if (sort is not ("" or "-createdAt" or "createdAt"))
        {
            return JsonBody.Invalid("sort must be -createdAt (newest first, the default) or createdAt.", "sort");
        }

        var page = await cluster.GetGrain<ICodeCatalogGrain>(0).List(
            request.HttpContext.User.OwnerId(),
            new CodeListQuery(query.Limit ?? 20, afterCreatedAt, afterId, search.Length == 0 ? null : search, tag.Length == 0 ? null : tag, sort == "createdAt"));
        var now = clock.GetUtcNow();
        var last = page.Items.Count > 0 ? page.Items[^1] : null;
        return TypedResults.Ok(new CodeListPage(
            [.. page.Items.Select(c => new CodeListItem(
                c.Code,
                ShortUrl(c.Code, request, options.Value),
                c.TargetUrl,
                c.Title,
                CodeResponse.StatusName(c.Status, c.ExpiresAt <= now ? GoneReason.Expired : null),
                c.Tags,
                c.ExpiresAt,
                c.MaxScans,
                c.CreatedAt,
                c.UpdatedAt))],
            page.HasMore && last is not null ? PageCursor.Format(last.CreatedAt, last.Id) : null));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string code, HttpRequest request, IClusterClient cluster, CodeLookup lookup)
    {
        // One grain call: the grain checks ownership itself. The lookup only spares unknown codes an activation.
        if (!CodeFormat.IsWellFormed(code) || !await lookup.ExistsAsync(code))
        {
            return NotFound(code);
        }

        return await cluster.GetGrain<IQrCodeGrain>(code).Delete(request.HttpContext.User.OwnerId()) ? TypedResults.NoContent() : NotFound(code);
    }

    public static async Task<Results<Ok<CodeResponse>, ProblemHttpResult>> UpdateAsync(
        string code, HttpRequest request, IClusterClient cluster, CodeLookup lookup, IOptions<GatewayOptions> options, TimeProvider clock,
        IOptions<OwnerLimits> limits)
    {
        var (body, fields, error) = await JsonBody.ReadWithFieldsAsync<UpdateCodeRequest>(request);
        if (body is null)
        {
            return error!;
        }

        if (body.TargetUrl is not null && TargetUrl.Validate(body.TargetUrl, OwnHosts(request, options.Value)) is { } urlError)
        {
            return JsonBody.Invalid(urlError, "targetUrl");
        }

        var fieldProblem = CodeFieldRules.CheckOptionalFields(
            body.Title, body.Tags, body.ExpiresAt, body.MaxScans, body.ThrottleBurst, body.ThrottlePerMinute, clock.GetUtcNow(), out var tags);
        var routingProblem = RoutingApi.CheckRouting(body.Routing, OwnHosts(request, options.Value), clock.GetUtcNow(), out var routing, out var warnings);
        if ((fieldProblem ?? routingProblem ?? OverCeiling(request.HttpContext.User.IsInRole(Roles.Admin), limits.Value, body.ThrottleBurst, body.ThrottlePerMinute))
            is { } problem)
        {
            return problem.ToResult();
        }

        if (!CodeFormat.IsWellFormed(code) || !await lookup.ExistsAsync(code))
        {
            return NotFound(code);
        }

        var target = body.TargetUrl is null ? null : TargetUrl.Normalize(body.TargetUrl);
        var updated = await cluster.GetGrain<IQrCodeGrain>(code).Update(
            request.HttpContext.User.OwnerId(),
            new UpdateCodeCommand(
                target, body.Title, body.Enabled, tags, body.ExpiresAt,
                ClearExpiry: body.ExpiresAt is null && fields.Contains("expiresAt"),
                MaxScans: body.MaxScans,
                ClearMaxScans: body.MaxScans is null && fields.Contains("maxScans"),
                ThrottleBurst: body.ThrottleBurst,
                ThrottlePerMinute: body.ThrottlePerMinute,
                RoutingJson: routing?.ToJson(),
                ClearRouting: body.Routing is null && fields.Contains("routing")));
        return updated is null
            ? NotFound(code)
            : TypedResults.Ok(CodeResponse.From(updated, ShortUrl(updated.Code, request, options.Value)) with { RoutingWarnings = warnings });
    }

    /// <summary>
    /// The caller's code, or null — for unknown codes and for other owners' codes alike, so that a key
    /// cannot even learn which codes exist. Never activates a grain for a code that does not exist.
    /// </summary>
    public static async Task<CodeDetails?> FindAsync(string code, long ownerId, IClusterClient cluster, CodeLookup lookup)
    {
        if (!CodeFormat.IsWellFormed(code) || !await lookup.ExistsAsync(code))
        {
            return null;
        }

        var details = await cluster.GetGrain<IQrCodeGrain>(code).Get();
        return details?.OwnerId == ownerId ? details : null;
    }

    private static Created<CodeResponse> Created(CodeDetails created, HttpRequest request, CodeLookup lookup, GatewayOptions options, IReadOnlyList<RoutingProblem>? warnings)
    {
        lookup.MarkKnown(created.Code);
        return TypedResults.Created(
            $"/api/codes/{created.Code}", CodeResponse.From(created, ShortUrl(created.Code, request, options)) with { RoutingWarnings = warnings });
    }

    public static ProblemHttpResult NotFound(string code) => TypedResults.Problem(
        statusCode: StatusCodes.Status404NotFound, title: "Code not found.", detail: $"No code '{(code.Length > 80 ? code[..80] : code)}'.");

    /// <summary>Where our short URLs live: the configured public origin and the host this request came to.</summary>
    internal static string[] OwnHosts(HttpRequest request, GatewayOptions options)
    {
        var hosts = new List<string> { request.Host.Value ?? string.Empty };
        if (Uri.TryCreate(options.PublicBaseUrl, UriKind.Absolute, out var publicBase))
        {
            hosts.Add(publicBase.IsDefaultPort ? publicBase.IdnHost : $"{publicBase.IdnHost}:{publicBase.Port}");
        }

        return [.. hosts.Where(h => h.Length > 0)];
    }

    public static string ShortUrl(string code, HttpRequest request, GatewayOptions options)
    {
        var origin = string.IsNullOrWhiteSpace(options.PublicBaseUrl)
            ? $"{request.Scheme}://{request.Host}"
            : options.PublicBaseUrl.TrimEnd('/');
        return $"{origin}/r/{code}";
    }
}
