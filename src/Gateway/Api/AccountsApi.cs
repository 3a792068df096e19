using System.ComponentModel.DataAnnotations;
using InvexQr.Abstractions;
using InvexQr.Gateway.Auth;
using InvexQr.Gateway.Hosting;
using InvexQr.Grains.Accounts;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace InvexQr.Gateway.Api;

/// <summary>
/// Owners and API keys. Admins create owners (each gets a first key); every owner manages its own
/// keys. A key's secret appears only in the response that creates it.
/// </summary>
public static class AccountsApi
{
    /// <param name="Name">Unique, at most 200 characters.</param>
    /// <param name="Role"><c>owner</c> (the default) or <c>admin</c>.</param>
    public sealed record CreateOwnerRequest(string? Name, [property: AllowedValues("owner", "admin")] string? Role = null);

    public sealed record CreateKeyRequest(string? Name = null);

    public sealed record KeyResponse(long Id, string Name, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, string? Key = null)
    {
        public static KeyResponse From(ApiKeyInfo info, string? key = null) => new(info.Id, info.Name, info.Prefix, info.CreatedAt, info.RevokedAt, key);
    }

    public sealed record OwnerResponse(long Id, string Name, [property: AllowedValues("owner", "admin")] string Role, DateTimeOffset CreatedAt)
    {
        public static OwnerResponse From(OwnerInfo info) => new(info.Id, info.Name, info.Role, info.CreatedAt);
    }

    /// <summary>A page of owners; <c>Next</c> is the <c>after</c> of the following page, null on the last one.</summary>
    public sealed record OwnerPage(IReadOnlyList<OwnerResponse> Items, long? Next);

    /// <summary>A new owner with its first API key, whose secret (<c>apiKey.key</c>) is shown only here.</summary>
    public sealed record CreatedOwnerResponse(
        long Id, string Name, [property: AllowedValues("owner", "admin")] string Role, DateTimeOffset CreatedAt, KeyResponse ApiKey);

    /// <summary>The query of <c>GET /api/owners</c>.</summary>
    public sealed record OwnerListParameters
    {
        [FromQuery(Name = "limit")]
        [Range(1, 200)]
        [System.ComponentModel.Description("Owners per page, 1-200; default 50.")]
        public int? Limit { get; init; }

        [FromQuery(Name = "after")]
        [System.ComponentModel.Description("The next of the previous page (0 or more): owners with a greater id.")]
        public long? After { get; init; }
    }

    public static IEndpointRouteBuilder MapAccountsApi(this IEndpointRouteBuilder endpoints)
    {
        var owners = endpoints.MapGroup("/api/owners").RequireAuthorization(GatewayHosting.AdminPolicy).WithTags("Owners")
            .ProducesProblem(StatusCodes.Status401Unauthorized).ProducesProblem(StatusCodes.Status403Forbidden);
        owners.MapGet("/", ListOwnersAsync).WithName("ListOwners").WithSummary("Owners by id (admin), a page at a time.")
            .ProducesValidationProblem();
        owners.MapPost("/", CreateOwnerAsync).WithName("CreateOwner").WithSummary("Create an owner with a first API key (admin).")
            .Accepts<CreateOwnerRequest>("application/json")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge).ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        owners.MapPost("/{ownerId:long}/keys", CreateKeyForOwnerAsync).WithName("CreateKeyForOwner").WithSummary("Create an API key for an owner (admin).")
            .Accepts<CreateKeyRequest>("application/json")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge).ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        owners.MapDelete("/{ownerId:long}", DeleteOwnerAsync).WithName("DeleteOwner")
            .WithSummary("Erase an owner (admin): keys revoked and webhook endpoints deleted first, then its codes, their raw scans and rollups, then the owner. 204 only when all are gone; 503 when it did not finish (send it again); 409 for the caller's own owner and the bootstrap admin.")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        var keys = endpoints.MapGroup("/api/keys").RequireAuthorization().WithTags("API keys").ProducesProblem(StatusCodes.Status401Unauthorized);
        keys.MapGet("/", ListKeysAsync).WithName("ListKeys").WithSummary("The caller's API keys (never their secrets).");
        keys.MapPost("/", CreateKeyAsync).WithName("CreateKey").WithSummary("Create an API key; its secret is shown once.")
            .Accepts<CreateKeyRequest>("application/json")
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge).ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        keys.MapDelete("/{keyId:long}", RevokeKeyAsync).WithName("RevokeKey").WithSummary("Revoke one of the caller's API keys.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return endpoints;
    }

    public static async Task<Results<Ok<OwnerPage>, ProblemHttpResult>> ListOwnersAsync(IClusterClient cluster, [AsParameters] OwnerListParameters query)
    {
        var (limit, after) = (query.Limit, query.After);
        if (limit is < 1 or > 200)
        {
            return JsonBody.Invalid("limit must be a whole number from 1 to 200.", "limit");
        }

        if (after is < 0)
        {
            return JsonBody.Invalid("after must be an owner id (0 or more).", "after");
        }

        var size = limit ?? 50;
        // One more than asked tells whether another page follows without a count query.
        var owners = await cluster.GetGrain<IAccountsGrain>(0).ListOwners(after ?? 0, size + 1);
        var items = owners.Take(size).Select(OwnerResponse.From).ToList();
        return TypedResults.Ok(new OwnerPage(items, owners.Count > size ? items[^1].Id : null));
    }

    public static async Task<Results<Created<CreatedOwnerResponse>, ProblemHttpResult>> CreateOwnerAsync(HttpRequest request, IClusterClient cluster)
    {
        var (body, error) = await JsonBody.ReadAsync<CreateOwnerRequest>(request);
        if (body is null)
        {
            return error!;
        }

        if (string.IsNullOrWhiteSpace(body.Name) || body.Name.Length > 200 || CodeFieldRules.HasControlCharacters(body.Name))
        {
            return JsonBody.Invalid("name is required, at most 200 characters, without control characters.", "name");
        }

        var role = body.Role ?? Roles.Owner;
        if (role is not (Roles.Owner or Roles.Admin))
        {
            return JsonBody.Invalid("role must be 'owner' or 'admin'.", "role");
        }

        if (string.Equals(body.Name.Trim(), Roles.BootstrapAdminName, StringComparison.OrdinalIgnoreCase))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Owner name reserved.",
                detail: $"'{Roles.BootstrapAdminName}' is the bootstrap admin key's owner.");
        }

        var created = await cluster.GetGrain<IAccountsGrain>(0).CreateOwner(body.Name.Trim(), role);
        return created is null
            ? TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Owner exists.", detail: $"An owner named '{body.Name.Trim()}' exists already.")
            : TypedResults.Created($"/api/owners/{created.Owner.Id}", new CreatedOwnerResponse(
                created.Owner.Id, created.Owner.Name, created.Owner.Role, created.Owner.CreatedAt, KeyResponse.From(created.Key.Info, created.Key.Key)));
    }

    public static async Task<Results<Created<KeyResponse>, ProblemHttpResult>> CreateKeyForOwnerAsync(long ownerId, HttpRequest request, IClusterClient cluster) =>
        await CreateKeyForAsync(ownerId, request, cluster);

    public static async Task<Results<Created<KeyResponse>, ProblemHttpResult>> CreateKeyAsync(HttpRequest request, IClusterClient cluster) =>
        await CreateKeyForAsync(request.HttpContext.User.OwnerId(), request, cluster);

    public static async Task<Ok<KeyResponse[]>> ListKeysAsync(HttpContext http, IClusterClient cluster) =>
        TypedResults.Ok((await cluster.GetGrain<IAccountsGrain>(0).ListKeys(http.User.OwnerId())).Select(k => KeyResponse.From(k)).ToArray());

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteOwnerAsync(long ownerId, HttpContext http, IClusterClient cluster, ApiKeyCache cache)
    {
        if (ownerId == http.User.OwnerId())
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Cannot erase yourself.",
                detail: "Erase this owner with another admin's key.");
        }

        OwnerErasure erasure;
        try
        {
            erasure = await cluster.GetGrain<IAccountsGrain>(0).DeleteOwner(ownerId);
        }
        catch (Exception e) when (ClusterErrors.IsTransient(e))
        {
            // A long erasure can outlast the cluster's call timeout (or meet a silo going away): it may still be
            // running or have stopped part-way, and a repeated DELETE picks up where it is.
            cache.Clear();
            http.Response.Headers.RetryAfter = "5";
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Erasure did not finish.",
                detail: $"Erasing owner {ownerId} did not finish in time ({e.GetType().Name}); it may still be running. " +
                        "Send the DELETE again to finish it: 204 says everything is gone.");
        }

        cache.Clear(); // its keys (revoked first) stop working on this gateway now, elsewhere within the key cache's lifetime
        switch (erasure.Outcome)
        {
            case ErasureOutcome.NotFound:
                return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such owner.", detail: $"There is no owner {ownerId}.");
            case ErasureOutcome.Refused:
                return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "This owner cannot be erased.",
                    detail: $"The '{Roles.BootstrapAdminName}' owner is the bootstrap admin key's: it is kept.");
            case ErasureOutcome.Incomplete:
                http.Response.Headers.RetryAfter = "1";
                return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Erasure did not finish.",
                    detail: $"Owner {ownerId}'s keys are revoked and it can create nothing, but {erasure.CodesLeft} of its codes " +
                            $"(or the owner itself) remain after {erasure.CodesDeleted} were deleted. Send the DELETE again to finish.");
            default:
                return TypedResults.NoContent();
        }
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> RevokeKeyAsync(long keyId, HttpContext http, IClusterClient cluster, ApiKeyCache cache)
    {
        if (!await cluster.GetGrain<IAccountsGrain>(0).RevokeKey(http.User.OwnerId(), keyId))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Key not found.");
        }

        cache.Clear(); // this gateway stops accepting it at once; others within the cache's TTL
        return TypedResults.NoContent();
    }

    private static async Task<Results<Created<KeyResponse>, ProblemHttpResult>> CreateKeyForAsync(long ownerId, HttpRequest request, IClusterClient cluster)
    {
        var (body, error) = await JsonBody.ReadAsync<CreateKeyRequest>(request);
        if (body is null)
        {
            return error!;
        }

        if (body.Name is { Length: > 200 } || CodeFieldRules.HasControlCharacters(body.Name))
        {
            return JsonBody.Invalid("name must be at most 200 characters, without control characters.", "name");
        }

        var key = await cluster.GetGrain<IAccountsGrain>(0).CreateKey(ownerId, body.Name?.Trim() ?? string.Empty);
        return key is null
            ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Owner not found.")
            : TypedResults.Created($"/api/keys/{key.Info.Id}", KeyResponse.From(key.Info, key.Key));
    }
}
