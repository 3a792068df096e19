namespace InvexQr.Abstractions;

/// <summary>Roles: admins manage owners and keys; owners manage their own codes.</summary>
public static class Roles
{
    public const string Admin = "admin";
    public const string Owner = "owner";

    /// <summary>The owner the bootstrap admin key (<c>Auth:ApiKey</c>) authenticates as: it cannot be erased, nor its name taken by another owner.</summary>
    public const string BootstrapAdminName = "admin";
}

/// <summary>Who a valid API key belongs to.</summary>
[GenerateSerializer, Immutable]
public sealed record Principal([property: Id(0)] long OwnerId, [property: Id(1)] string Role, [property: Id(2)] long KeyId);

[GenerateSerializer, Immutable]
public sealed record OwnerInfo([property: Id(0)] long Id, [property: Id(1)] string Name, [property: Id(2)] string Role, [property: Id(3)] DateTimeOffset CreatedAt);

/// <summary>An API key as listings show it (never the key itself).</summary>
[GenerateSerializer, Immutable]
public sealed record ApiKeyInfo(
    [property: Id(0)] long Id,
    [property: Id(1)] long OwnerId,
    [property: Id(2)] string Name,
    [property: Id(3)] string Prefix,
    [property: Id(4)] DateTimeOffset CreatedAt,
    [property: Id(5)] DateTimeOffset? RevokedAt);

/// <summary>A key just created: the only time its secret is returned.</summary>
[GenerateSerializer, Immutable]
public sealed record NewApiKey([property: Id(0)] ApiKeyInfo Info, [property: Id(1)] string Key);

/// <summary>An owner just created, with its first key.</summary>
[GenerateSerializer, Immutable]
public sealed record CreatedOwner([property: Id(0)] OwnerInfo Owner, [property: Id(1)] NewApiKey Key);

/// <summary>How an owner's erasure ended.</summary>
public enum ErasureOutcome
{
    /// <summary>There is no such owner.</summary>
    NotFound,

    /// <summary>The owner, its keys, codes, scans and rollups are gone.</summary>
    Erased,

    /// <summary>The owner is kept (the bootstrap admin); nothing was changed.</summary>
    Refused,

    /// <summary>Its keys are revoked and it accepts no new code, but some codes (or the owner) remain: erase again.</summary>
    Incomplete,
}

[GenerateSerializer, Immutable]
public sealed record OwnerErasure([property: Id(0)] ErasureOutcome Outcome, [property: Id(1)] int CodesDeleted, [property: Id(2)] int CodesLeft);

/// <summary>A code was refused because its owner is being erased (its keys are revoked, it may create nothing).</summary>
[GenerateSerializer]
public sealed class OwnerErasingException : Exception
{
    public OwnerErasingException()
        : base("This owner is being erased; it cannot create codes.")
    {
    }

    public OwnerErasingException(string message)
        : base(message)
    {
    }

    public OwnerErasingException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
