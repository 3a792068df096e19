using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;

namespace InvexQr.Gateway.Api;

/// <summary>
/// Validation of the owner-editable fields of a code, shared by create, update and the CSV import. Each returns the
/// problem (the field and what is wrong; <see cref="FieldProblem.ToResult"/> makes it a 400) or null when acceptable.
/// </summary>
public static partial class CodeFieldRules
{
    public const int MaxTitleLength = 200;
    public const int MaxTags = 20;
    public const int MaxTagLength = 40;
    public const long MaxScanBudget = 1_000_000_000_000;

    /// <summary>Every optional field a create or a patch may carry; the first problem found, or null.</summary>
    public static FieldProblem? CheckOptionalFields(
        string? title, IReadOnlyList<string?>? tags, DateTimeOffset? expiresAt, long? maxScans, int? throttleBurst, int? throttlePerMinute,
        DateTimeOffset now, out IReadOnlyList<string>? normalisedTags) =>
        CheckTags(tags, out normalisedTags)
            ?? CheckTitle(title)
            ?? CheckExpiry(expiresAt, now)
            ?? CheckMaxScans(maxScans)
            ?? CheckThrottle(throttleBurst, throttlePerMinute);

    public static FieldProblem? CheckTitle(string? title) => title switch
    {
        { Length: > MaxTitleLength } => Problem($"title must be at most {MaxTitleLength} characters.", "title"),
        _ when HasControlCharacters(title) => Problem("title must not contain control characters (NUL, line breaks, tabs).", "title"),
        _ => null,
    };

    /// <summary>
    /// True for text with control characters: NUL cannot be stored in PostgreSQL text at all (it would be a 500), and
    /// the others have no place in a one-line name, title or search.
    /// </summary>
    public static bool HasControlCharacters(string? text) => text is not null && text.Any(char.IsControl);

    /// <summary>Tags: at most 20, each 1-40 letters, digits, spaces, '-', '_' or '.'; duplicates (ignoring case) removed.</summary>
    public static FieldProblem? CheckTags(IReadOnlyList<string?>? tags, out IReadOnlyList<string>? normalised)
    {
        normalised = null;
        if (tags is null)
        {
            return null;
        }

        if (tags.Count > MaxTags)
        {
            return Problem($"at most {MaxTags} tags.", "tags");
        }

        var result = new List<string>();
        foreach (var raw in tags)
        {
            var tag = raw?.Trim() ?? string.Empty;
            if (tag.Length is 0 or > MaxTagLength || !TagPattern().IsMatch(tag))
            {
                return Problem(
                    $"each tag must be 1-{MaxTagLength} letters, digits, spaces, '-', '_' or '.'.", "tags");
            }

            if (!result.Contains(tag, StringComparer.OrdinalIgnoreCase))
            {
                result.Add(tag);
            }
        }

        normalised = result;
        return null;
    }

    public static FieldProblem? CheckExpiry(DateTimeOffset? expiresAt, DateTimeOffset now) => expiresAt switch
    {
        null => null,
        var at when at <= now => Problem("expiresAt must be in the future.", "expiresAt"),
        var at when at > now.AddYears(100) => Problem("expiresAt must be within 100 years.", "expiresAt"),
        _ => null,
    };

    public static FieldProblem? CheckMaxScans(long? maxScans) => maxScans is < 1 or > MaxScanBudget
        ? Problem($"maxScans must be from 1 to {MaxScanBudget}.", "maxScans")
        : null;

    /// <summary>Per-code throttling overrides; the bounds match the database's check constraint.</summary>
    public static FieldProblem? CheckThrottle(int? burst, int? perMinute) =>
        burst is < 1 or > 100_000 ? Problem("throttleBurst must be from 1 to 100000.", "throttleBurst")
        : perMinute is < 1 or > 1_000_000 ? Problem("throttlePerMinute must be from 1 to 1000000.", "throttlePerMinute")
        : null;

    private static FieldProblem Problem(string message, string field) => new(field, message);

    [GeneratedRegex(@"^[\p{L}\p{N} ._-]+$")]
    private static partial Regex TagPattern();
}

/// <summary>What is wrong with one field of a request; null-or-this is what every check returns.</summary>
public sealed record FieldProblem(string Field, string Message)
{
    /// <summary>The 400 problem+json naming the field.</summary>
    public ProblemHttpResult ToResult() => JsonBody.Invalid(Message, Field);
}
