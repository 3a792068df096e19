using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using InvexQr.Abstractions;
using InvexQr.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace InvexQr.Silo.Hosting;

/// <summary>
/// Who a grain call acts for, as the gateway established it from an API key or a session: an owner with a role, or
/// the operator (the bootstrap admin key, no owner id yet).
/// </summary>
public sealed record GrainCaller(long? OwnerId, string Role)
{
    /// <summary>The key of the signed caller token in Orleans' <see cref="RequestContext"/>; it flows into grain-to-grain calls.</summary>
    public const string ContextKey = "invexqr-caller";

    public static GrainCaller Operator { get; } = new(null, Roles.Admin);

    public bool IsAdmin => Role == Roles.Admin;

    /// <summary>Makes the grain calls of the current async flow act for <paramref name="caller"/> until disposed.</summary>
    public static IDisposable Act(GrainCaller caller, GrainCallerTokens tokens)
    {
        var previous = RequestContext.Get(ContextKey);
        RequestContext.Set(ContextKey, tokens.Sign(caller));
        return new Restore(previous);
    }

    private sealed class Restore(object? previous) : IDisposable
    {
        public void Dispose()
        {
            if (previous is null)
            {
                RequestContext.Remove(ContextKey);
            }
            else
            {
                RequestContext.Set(ContextKey, previous);
            }
        }
    }
}

/// <summary>
/// Signs and checks caller tokens: <c>v1.{owner or -}.{role}.{expiry, unix seconds}.{HMAC-SHA256}</c>. The HMAC key is
/// derived (HKDF) from the admin key <c>Auth:ApiKey</c>, which every silo and gateway of a deployment already holds and
/// which grants everything over HTTP anyway; whoever lacks it, e.g. an Orleans client that got past the transport,
/// cannot make a token. Without an admin key the process makes a random one: a co-hosting gateway signs for its own
/// silo, and a separate silo then refuses every other process's management calls (logged at start).
/// </summary>
public sealed class GrainCallerTokens
{
    /// <summary>How long a token is accepted: one request's calls, with room for clock skew between machines.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);

    private static readonly byte[] Purpose = Encoding.UTF8.GetBytes("invexqr grain caller v1");
    private readonly byte[] _key;
    private readonly TimeProvider _clock;

    public GrainCallerTokens(byte[] key, TimeProvider clock)
    {
        _key = key;
        _clock = clock;
    }

    /// <summary>True when the key came from <c>Auth:ApiKey</c> (shared by the deployment), false when made up for this process.</summary>
    public bool Shared { get; private init; }

    public static GrainCallerTokens FromConfiguration(IConfiguration configuration, TimeProvider clock)
    {
        var adminKey = configuration[AdminKeyPolicy.Setting];
        return string.IsNullOrEmpty(adminKey)
            ? new GrainCallerTokens(RandomNumberGenerator.GetBytes(32), clock)
            : new GrainCallerTokens(HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(adminKey), 32, info: Purpose), clock) { Shared = true };
    }

    public string Sign(GrainCaller caller)
    {
        if (caller.Role.Contains('.', StringComparison.Ordinal))
        {
            throw new ArgumentException("A role cannot contain '.'.", nameof(caller));
        }

        var expires = (_clock.GetUtcNow() + Lifetime).ToUnixTimeSeconds();
        var body = string.Create(CultureInfo.InvariantCulture, $"v1.{(caller.OwnerId is { } id ? id.ToString(CultureInfo.InvariantCulture) : "-")}.{caller.Role}.{expires}");
        return body + "." + Convert.ToBase64String(Mac(body));
    }

    /// <summary>The caller a token names, or null when it is malformed, not signed with this deployment's key, or expired.</summary>
    public GrainCaller? Verify(string? token)
    {
        if (token is null || token.Length > 200)
        {
            return null;
        }

        var cut = token.LastIndexOf('.');
        if (cut < 0)
        {
            return null;
        }

        var body = token[..cut];
        Span<byte> presented = stackalloc byte[32];
        if (!Convert.TryFromBase64String(token[(cut + 1)..], presented, out var written) || written != 32
            || !CryptographicOperations.FixedTimeEquals(presented, Mac(body)))
        {
            return null;
        }

        var parts = body.Split('.');
        if (parts is not ["v1", var owner, var role, var expires]
            || !long.TryParse(expires, NumberStyles.None, CultureInfo.InvariantCulture, out var expiresAt)
            || _clock.GetUtcNow().ToUnixTimeSeconds() > expiresAt)
        {
            return null;
        }

        if (owner == "-")
        {
            return new GrainCaller(null, role);
        }

        return long.TryParse(owner, NumberStyles.None, CultureInfo.InvariantCulture, out var ownerId) ? new GrainCaller(ownerId, role) : null;
    }

    private byte[] Mac(string body) => HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(body));
}

/// <summary>
/// The one place where grains check who calls them: every method of the management interfaces below has a rule, and a
/// method without one is refused (a new method must be classified here). Interfaces not listed (scans, lookups,
/// Orleans' own) pass untouched. The grains still check ownership of the code itself; this makes the owner id they
/// are given one the caller really is.
/// </summary>
public static class GrainCallerRules
{
    private delegate string? Rule(GrainCaller? caller, IIncomingGrainCallContext call);

    private static readonly Dictionary<Type, Dictionary<string, Rule>> Rules = new()
    {
        [typeof(IQrCodeGrain)] = new()
        {
            [nameof(IQrCodeGrain.Scan)] = Anyone,
            [nameof(IQrCodeGrain.Resolve)] = Anyone,
            [nameof(IQrCodeGrain.Get)] = AnyCaller,
            [nameof(IQrCodeGrain.Create)] = (caller, call) => ActsFor(caller, ((CreateCodeCommand)call.Request.GetArgument(0)!).OwnerId),
            [nameof(IQrCodeGrain.Update)] = (caller, call) => ActsFor(caller, (long?)call.Request.GetArgument(0)),
            [nameof(IQrCodeGrain.Delete)] = (caller, call) => ActsFor(caller, (long?)call.Request.GetArgument(0)),
            [nameof(IQrCodeGrain.Refresh)] = (caller, call) => ActsFor(caller, (long?)call.Request.GetArgument(0)),
        },
        [typeof(ICodeBulkGrain)] = new()
        {
            [nameof(ICodeBulkGrain.Create)] = (caller, call) => ActsFor(caller, (long)call.Request.GetArgument(0)!),
            [nameof(ICodeBulkGrain.Edit)] = (caller, call) => ActsFor(caller, (long)call.Request.GetArgument(0)!),
            [nameof(ICodeBulkGrain.Find)] = (caller, call) => ActsFor(caller, (long)call.Request.GetArgument(0)!),
        },
        [typeof(ICodeCatalogGrain)] = new()
        {
            [nameof(ICodeCatalogGrain.List)] = (caller, call) => ActsFor(caller, (long)call.Request.GetArgument(0)!),
        },
        [typeof(IAccountsGrain)] = new()
        {
            // Called to establish a caller (a key's hash, a session id), before there is one.
            [nameof(IAccountsGrain.Authenticate)] = Anyone,
            [nameof(IAccountsGrain.IsSessionEnded)] = Anyone,
            [nameof(IAccountsGrain.EndSession)] = AnyCaller,
            [nameof(IAccountsGrain.CreateOwner)] = Admin,
            [nameof(IAccountsGrain.EnsureOwner)] = Admin,
            [nameof(IAccountsGrain.DeleteOwner)] = Admin,
            [nameof(IAccountsGrain.ListOwners)] = Admin,
            [nameof(IAccountsGrain.FindOwner)] = (caller, call) => ActsFor(caller, (long)call.Request.GetArgument(0)!),
            [nameof(IAccountsGrain.CreateKey)] = (caller, call) => ActsFor(caller, (long)call.Request.GetArgument(0)!),
            [nameof(IAccountsGrain.ListKeys)] = (caller, call) => ActsFor(caller, (long)call.Request.GetArgument(0)!),
            [nameof(IAccountsGrain.RevokeKey)] = (caller, call) => ActsFor(caller, (long)call.Request.GetArgument(0)!),
        },
        [typeof(ILiveHubGrain)] = new()
        {
            // Silos publish and gateways poll for many owners at once; the gateway checked each viewer's ownership.
            [nameof(ILiveHubGrain.Publish)] = Admin,
            [nameof(ILiveHubGrain.Poll)] = Admin,
        },
    };

    /// <summary>Why the call is refused, or null when it may proceed.</summary>
    public static string? Check(IIncomingGrainCallContext call, GrainCallerTokens tokens)
    {
        var method = call.InterfaceMethod;
        if (method?.DeclaringType is not { } type || !Rules.TryGetValue(type, out var rules))
        {
            return null;
        }

        if (!rules.TryGetValue(method.Name, out var rule))
        {
            return $"{type.Name}.{method.Name} has no caller rule (Silo.Hosting/Cluster/GrainCaller.cs)";
        }

        return rule(tokens.Verify(RequestContext.Get(GrainCaller.ContextKey) as string), call);
    }

    /// <summary>The methods that have a rule, for the test that every management method is classified.</summary>
    public static IEnumerable<MethodInfo> Classified() =>
        Rules.SelectMany(r => r.Value.Keys.SelectMany(name => r.Key.GetMethods().Where(m => m.Name == name)));

    public static IEnumerable<Type> Interfaces => Rules.Keys;

    private static string? Anyone(GrainCaller? caller, IIncomingGrainCallContext call) => null;

    private static string? AnyCaller(GrainCaller? caller, IIncomingGrainCallContext call) =>
        caller is null ? "no valid caller token" : null;

    private static string? Admin(GrainCaller? caller, IIncomingGrainCallContext call) =>
        caller is null ? "no valid caller token" : caller.IsAdmin ? null : "the caller is not an admin";

    private static string? ActsFor(GrainCaller? caller, long? ownerId) =>
        caller is null ? "no valid caller token"
        : caller.IsAdmin || (ownerId is not null && caller.OwnerId == ownerId) ? null
        : $"the caller (owner {caller.OwnerId?.ToString(CultureInfo.InvariantCulture) ?? "-"}) may not act for owner {ownerId?.ToString(CultureInfo.InvariantCulture) ?? "none"}";
}

/// <summary>Applies <see cref="GrainCallerRules"/> to every call a silo receives, from clients, other silos and its own grains.</summary>
public sealed class GrainCallerFilter(GrainCallerTokens tokens, ILogger<GrainCallerFilter> logger) : IIncomingGrainCallFilter
{
    public Task Invoke(IIncomingGrainCallContext context)
    {
        if (GrainCallerRules.Check(context, tokens) is { } refusal)
        {
            logger.LogWarning("Refused {Grain}.{Method}: {Reason}", context.InterfaceName, context.MethodName, refusal);
            throw new GrainCallRefusedException($"{context.MethodName} refused: {refusal}.");
        }

        return context.Invoke();
    }
}

/// <summary>DI wiring of the caller tokens, shared by silos and gateways (once per process, also when co-hosted).</summary>
public static class GrainCallerRegistration
{
    public static IHostApplicationBuilder AddGrainCallerTokens(this IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        builder.Services.TryAddSingleton(_ => GrainCallerTokens.FromConfiguration(configuration, TimeProvider.System));
        return builder;
    }
}
