using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using FromQueryAttribute = Microsoft.AspNetCore.Mvc.FromQueryAttribute;
using InvexQr.Abstractions;
using InvexQr.Data;
using InvexQr.Gateway.Auth;
using InvexQr.Grains.Codes;
using InvexQr.Grains.Webhooks;
using InvexQr.Silo.Hosting.Webhooks;
using Microsoft.Extensions.Options;

namespace InvexQr.Gateway.Api;

/// <summary>
/// <c>/api/webhooks</c>: an owner's webhook endpoints (URL, events, filters by code or tag), their recent deliveries and
/// replays. The signing secret appears only in the answer that creates the endpoint. Deliveries: docs/webhooks.md.
/// </summary>
public static class WebhooksApi
{
    public const int MaxFilterCodes = 1000;

    public sealed record CreateWebhookRequest(string? Url, IReadOnlyList<string?>? Events, IReadOnlyList<string?>? Codes, IReadOnlyList<string?>? Tags);

    public sealed record UpdateWebhookRequest(string? Url, IReadOnlyList<string?>? Events, IReadOnlyList<string?>? Codes, IReadOnlyList<string?>? Tags, bool? Enabled);

    public sealed record WebhookResponse(
        long Id, string Url, IReadOnlyList<string> Events, IReadOnlyList<string>? Codes, IReadOnlyList<string>? Tags, string Status,
        string? DisabledReason, int ConsecutiveFailures, DateTimeOffset? FailingSince, DateTimeOffset NextAttemptAt, long PendingEvents,
        DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string? Secret = null)
    {
        public static WebhookResponse From(WebhookEndpoint e, string? secret = null) => new(
            e.Id, e.Url, e.Events, e.Codes, e.Tags, e.Status, e.DisabledReason, e.ConsecutiveFailures, e.FailingSince, e.NextAttemptAt,
            e.PendingEvents, e.CreatedAt, e.UpdatedAt, secret);
    }

    public static WebApplicationBuilder AddWebhooksApi(this WebApplicationBuilder builder)
    {
        builder.Services.Configure<WebhookOptions>(builder.Configuration.GetSection(WebhookOptions.Section));
        builder.Services.AddSingleton<WebhookRepository>();
        return builder;
    }

    public static IEndpointRouteBuilder MapWebhooksApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/webhooks").RequireAuthorization().WithTags("Webhooks").ProducesProblem(StatusCodes.Status401Unauthorized);
        api.MapPost("/", CreateAsync).WithName("CreateWebhook").WithSummary("Register an endpoint; its signing secret is shown once.")
            .Accepts<CreateWebhookRequest>("application/json").Produces<WebhookResponse>(StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        api.MapGet("/", ListAsync).WithName("ListWebhooks").WithSummary("The caller's endpoints (never their secrets).").Produces<WebhookResponse[]>();
        api.MapGet("/{id:long}", GetAsync).WithName("GetWebhook").WithSummary("One endpoint.").Produces<WebhookResponse>().ProducesProblem(StatusCodes.Status404NotFound);
        api.MapPatch("/{id:long}", UpdateAsync).WithName("UpdateWebhook").WithSummary("Change an endpoint's URL, events or filters; enabled=true re-enables a disabled one.")
            .Accepts<UpdateWebhookRequest>("application/json").Produces<WebhookResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound);
        api.MapDelete("/{id:long}", DeleteAsync).WithName("DeleteWebhook").WithSummary("Delete an endpoint with the events still waiting for it.")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("/{id:long}/deliveries", DeliveriesAsync).WithName("ListWebhookDeliveries").WithSummary("Recent deliveries, newest first: limit (1-100, default 20).")
            .Produces<WebhookDeliveryInfo[]>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound);
        api.MapPost("/{id:long}/deliveries/{deliveryId:guid}/replay", ReplayAsync).WithName("ReplayWebhookDelivery")
            .WithSummary("Send a past delivery's events again (same event ids).")
            .Produces<WebhookReplayResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        return endpoints;
    }

    public static async Task<IResult> CreateAsync(
        HttpRequest request, WebhookRepository webhooks, IOptions<WebhookOptions> options, IOptions<GatewayOptions> gateway)
    {
        var ownerId = request.HttpContext.User.OwnerId();
        var (body, error) = await JsonBody.ReadAsync<CreateWebhookRequest>(request);
        if (body is null)
        {
            return error!;
        }

        if (await CheckUrlAsync(body.Url, request, options.Value, gateway.Value) is { } urlError)
        {
            return urlError;
        }

        var (filterError, events, codes, tags) = await CheckFiltersAsync(body.Events, body.Codes, body.Tags, required: true, ownerId, webhooks);
        if (filterError is not null)
        {
            return filterError;
        }

        if (await webhooks.CountAsync(ownerId) >= options.Value.MaxEndpointsPerOwner)
        {
            return Results.Problem(
                statusCode: StatusCodes.Status409Conflict, title: "Too many endpoints.",
                detail: $"An owner may have at most {options.Value.MaxEndpointsPerOwner} webhook endpoints.");
        }

        var secret = WebhookSignature.NewSecret();
        WebhookEndpoint created;
        try
        {
            created = await webhooks.CreateAsync(ownerId, TargetUrl.Normalize(body.Url!), events!, codes, tags, secret);
        }
        catch (OwnerErasingException)
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Owner being erased.",
                detail: "This owner is being erased: it can register no webhook endpoints.");
        }

        return Results.Created($"/api/webhooks/{created.Id}", WebhookResponse.From(created, secret));
    }

    public static async Task<IResult> ListAsync(HttpRequest request, WebhookRepository webhooks) =>
        Results.Ok((await webhooks.ListAsync(request.HttpContext.User.OwnerId())).Select(e => WebhookResponse.From(e)));

    public static async Task<IResult> GetAsync(long id, HttpRequest request, WebhookRepository webhooks) =>
        await webhooks.GetAsync(request.HttpContext.User.OwnerId(), id) is { } endpoint ? Results.Ok(WebhookResponse.From(endpoint)) : NotFound(id);

    public static async Task<IResult> UpdateAsync(
        long id, HttpRequest request, WebhookRepository webhooks, IOptions<WebhookOptions> options, IOptions<GatewayOptions> gateway)
    {
        var ownerId = request.HttpContext.User.OwnerId();
        var (body, fields, error) = await JsonBody.ReadWithFieldsAsync<UpdateWebhookRequest>(request);
        if (body is null)
        {
            return error!;
        }

        if (body.Url is not null && await CheckUrlAsync(body.Url, request, options.Value, gateway.Value) is { } urlError)
        {
            return urlError;
        }

        var (filterError, events, codes, tags) = await CheckFiltersAsync(body.Events, body.Codes, body.Tags, required: false, ownerId, webhooks);
        if (filterError is not null)
        {
            return filterError;
        }

        var change = new WebhookEndpointChange(
            body.Url is null ? null : TargetUrl.Normalize(body.Url), events,
            codes, ClearCodes: body.Codes is null && fields.Contains("codes"),
            tags, ClearTags: body.Tags is null && fields.Contains("tags"),
            body.Enabled);
        return await webhooks.UpdateAsync(ownerId, id, change) is { } updated ? Results.Ok(WebhookResponse.From(updated)) : NotFound(id);
    }

    public static async Task<IResult> DeleteAsync(long id, HttpRequest request, WebhookRepository webhooks) =>
        await webhooks.DeleteAsync(request.HttpContext.User.OwnerId(), id) ? Results.NoContent() : NotFound(id);

    public static async Task<IResult> DeliveriesAsync(
        long id, HttpRequest request, WebhookRepository webhooks,
        [FromQuery(Name = "limit"), Range(1, 100), Description("Deliveries to list, newest first (1-100, default 20).")] int? limit = null)
    {
        limit ??= 20;
        if (limit is < 1 or > 100)
        {
            return JsonBody.Invalid("limit must be a whole number from 1 to 100.", "limit");
        }

        var ownerId = request.HttpContext.User.OwnerId();
        if (await webhooks.GetAsync(ownerId, id) is null)
        {
            return NotFound(id);
        }

        return Results.Ok(await webhooks.DeliveriesAsync(ownerId, id, limit.Value));
    }

    public static async Task<IResult> ReplayAsync(long id, Guid deliveryId, HttpRequest request, WebhookRepository webhooks)
    {
        var ownerId = request.HttpContext.User.OwnerId();
        var endpoint = await webhooks.GetAsync(ownerId, id);
        if (endpoint is null)
        {
            return NotFound(id);
        }

        if (endpoint.Status != "active")
        {
            return Results.Problem(
                statusCode: StatusCodes.Status409Conflict, title: "Endpoint disabled.",
                detail: "Enable the endpoint first (PATCH with \"enabled\": true); its waiting events are then sent again.");
        }

        return await webhooks.ReplayAsync(ownerId, id, deliveryId) is { } queued
            ? Results.Json(new WebhookReplayResponse(queued), statusCode: StatusCodes.Status202Accepted)
            : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Delivery not found.", detail: $"No delivery {deliveryId} of endpoint {id}.");
    }

    private static IResult NotFound(long id) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Webhook not found.", detail: $"No webhook endpoint {id}.");

    /// <summary>The code-target rules (absolute http(s), no credentials, not one of our short URLs), then the SSRF rules.</summary>
    private static async Task<IResult?> CheckUrlAsync(string? url, HttpRequest request, WebhookOptions options, GatewayOptions gateway)
    {
        var hosts = new List<string> { request.Host.Value ?? string.Empty };
        if (Uri.TryCreate(gateway.PublicBaseUrl, UriKind.Absolute, out var publicBase))
        {
            hosts.Add(publicBase.IsDefaultPort ? publicBase.IdnHost : $"{publicBase.IdnHost}:{publicBase.Port}");
        }

        if (TargetUrl.Validate(url, hosts.Where(h => h.Length > 0).ToArray()) is { } invalid)
        {
            return JsonBody.Invalid(invalid.Replace("targetUrl", "url"), "url");
        }

        var refusal = await WebhookTargets.RefusalAsync(new Uri(TargetUrl.Normalize(url!)), options.AllowPrivateAddresses, request.HttpContext.RequestAborted);
        return refusal is null ? null : JsonBody.Invalid(refusal, "url");
    }

    /// <summary>The events and the code and tag filters of a create or an update: the first bad field, or them normalised.</summary>
    private static async Task<(IResult? Error, IReadOnlyList<string>? Events, IReadOnlyList<string>? Codes, IReadOnlyList<string>? Tags)> CheckFiltersAsync(
        IReadOnlyList<string?>? events, IReadOnlyList<string?>? codes, IReadOnlyList<string?>? tags, bool required, long ownerId, WebhookRepository webhooks)
    {
        var error = CheckEvents(events, required, out var checkedEvents);
        var codesError = CheckCodes(codes, out var checkedCodes);
        var tagsError = CheckTags(tags, out var checkedTags);
        error ??= codesError ?? tagsError;
        if (error is null && checkedCodes is not null && await webhooks.UnknownCodesAsync(ownerId, checkedCodes) is { Count: > 0 } unknown)
        {
            error = JsonBody.Invalid($"codes: no code '{unknown[0]}' among yours.", "codes");
        }

        return (error, checkedEvents, checkedCodes, checkedTags);
    }

    private static IResult? CheckEvents(IReadOnlyList<string?>? events, bool required, out IReadOnlyList<string>? normalised)
    {
        normalised = null;
        if (events is null)
        {
            return required ? JsonBody.Invalid($"events is required: any of {string.Join(", ", WebhookEvents.All)}.", "events") : null;
        }

        if (events.Count == 0 || events.Any(e => e is null || !WebhookEvents.All.Contains(e)))
        {
            return JsonBody.Invalid($"events must be a non-empty list of {string.Join(", ", WebhookEvents.All)}.", "events");
        }

        normalised = events.Distinct().ToArray()!;
        return null;
    }

    private static IResult? CheckCodes(IReadOnlyList<string?>? codes, out IReadOnlyList<string>? normalised)
    {
        normalised = null;
        if (codes is null)
        {
            return null;
        }

        if (codes.Count is 0 or > MaxFilterCodes || codes.Any(c => c is null || !CodeFormat.IsWellFormed(c)))
        {
            return JsonBody.Invalid($"codes must be 1-{MaxFilterCodes} codes (omit it or send null for all codes).", "codes");
        }

        normalised = codes.Distinct(StringComparer.Ordinal).ToArray()!;
        return null;
    }

    private static IResult? CheckTags(IReadOnlyList<string?>? tags, out IReadOnlyList<string>? normalised)
    {
        normalised = null;
        if (tags is { Count: 0 })
        {
            return JsonBody.Invalid("tags must list at least one tag (omit it or send null for no tag filter).", "tags");
        }

        return CodeFieldRules.CheckTags(tags, out normalised)?.ToResult();
    }
}

/// <summary>A replay's answer.</summary>
/// <param name="Queued">Events queued again for the endpoint (the delivery's, with their event ids).</param>
public sealed record WebhookReplayResponse(int Queued);
