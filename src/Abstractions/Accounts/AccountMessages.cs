namespace InvexQr.Abstractions;

/// <summary>Roles: admins manage owners and keys; owners manage their own codes.</summary>
public static class Roles
{
    public const string Admin = "admin";
    public const string Owner = "owner";
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
