using Microsoft.Extensions.Configuration;

namespace InvexQr.ServiceDefaults;

/// <summary>
/// The admin key (<c>Auth:ApiKey</c>) opens every owner's data and the Orleans dashboard, so a guessable one must not
/// start: at least <see cref="MinimumLength"/> characters, 8 distinct ones, and none of the placeholder markers that
/// example files carry. Unset is allowed (no bootstrap admin, no dashboard). scripts/validate-deploy/trust.mjs applies the same rule
/// to the deployment files.
/// </summary>
public static class AdminKeyPolicy
{
    public const string Setting = "Auth:ApiKey";

    public const int MinimumLength = 24;

    public static readonly IReadOnlyList<string> PlaceholderMarkers = ["change-me", "changeme", "change_me", "placeholder", "example", "replace"];

    /// <summary>Why <paramref name="key"/> is refused, or null when it is acceptable.</summary>
    public static string? Weakness(string key)
    {
        var marker = PlaceholderMarkers.FirstOrDefault(m => key.Contains(m, StringComparison.OrdinalIgnoreCase));
        if (marker is not null)
        {
            return $"it contains \"{marker}\", a placeholder marker";
        }

        var length = key.Trim().Length;
        if (length < MinimumLength)
        {
            return $"it is {length} characters long, fewer than {MinimumLength}";
        }

        return key.Distinct().Count() < 8 ? "it has fewer than 8 distinct characters" : null;
    }

    /// <summary>Throws <see cref="StartupConfigurationException"/> when the configured admin key is weak.</summary>
    public static void EnsureStrong(IConfiguration configuration)
    {
        var key = configuration[Setting];
        if (string.IsNullOrEmpty(key) || Weakness(key) is not { } why)
        {
            return;
        }

        throw new StartupConfigurationException(
            $"{Setting} (env Auth__ApiKey) is not a usable admin key: {why}. Use at least {MinimumLength} random characters, e.g. `openssl rand -hex 32`.");
    }
}
