using System.Globalization;
using System.Text.RegularExpressions;
using InvexQr.Grains.Codes;

namespace InvexQr.Grains.Routing;

/// <summary>A problem with one field of the routing, named by its path (<c>routing.rules[2].when.os</c>).</summary>
public sealed record RoutingProblem(string Field, string Message);

/// <summary>
/// Checks and normalises an owner's routing. Errors refuse it (400 naming the field); warnings say what can never match
/// (a rule behind a catch-all, a window that has ended…), which is allowed but shown to the owner.
/// </summary>
public static partial class RoutingValidation
{
    public const int MaxRules = 20;
    public const int MaxVariants = 10;
    public const int MaxScheduleEntries = 20;
    public const int MaxListValues = 50;
    public const int MaxWeight = 10_000;
    public const int MaxUtmLength = 200;

    public static readonly string[] Devices = ["mobile", "tablet", "desktop", "bot", "other"];
    public static readonly string[] DayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

    /// <summary>The normalised routing, or the first error. <paramref name="warnings"/> gets what can never match.</summary>
    public static RoutingRules? Check(
        RoutingRules routing, IReadOnlyCollection<string> ownHosts, DateTimeOffset now, out RoutingProblem? error, List<RoutingProblem> warnings)
    {
        error = null;
        try
        {
            return Normalise(routing, ownHosts, now, warnings);
        }
        catch (Invalid invalid)
        {
            error = invalid.Problem;
            return null;
        }
    }

    private static RoutingRules Normalise(RoutingRules routing, IReadOnlyCollection<string> ownHosts, DateTimeOffset now, List<RoutingProblem> warnings)
    {
        var zone = routing.TimeZone is null ? null : CheckZone(routing.TimeZone, "routing.timeZone");
        var rules = routing.Rules ?? [];
        if (rules.Count > MaxRules)
        {
            Fail("routing.rules", $"at most {MaxRules} rules.");
        }

        var normalised = new List<RoutingRule>(rules.Count);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        string? catchAll = null;
        for (var i = 0; i < rules.Count; i++)
        {
            var path = $"routing.rules[{i}]";
            var rule = rules[i] ?? Fail<RoutingRule>(path, "a rule must be an object.");
            var id = rule.Id ?? $"r{i + 1}";
            CheckId(id, path + ".id");
            if (!ids.Add(id))
            {
                Fail(path + ".id", $"rule id '{id}' is used twice.");
            }

            string? target = null;
            List<SplitVariant>? split = null;
            var weights = 1L;
            if ((rule.Target is null) == (rule.Split is null))
            {
                Fail(path, "a rule needs exactly one of target or split.");
            }

            if (rule.Target is not null)
            {
                target = CheckUrl(rule.Target, path + ".target", ownHosts);
            }
            else
            {
                split = CheckSplit(rule.Split!, path + ".split", ownHosts, warnings, out weights);
            }

            var when = rule.When is null ? null : CheckConditions(rule.When, path + ".when", zone, now, warnings);
            if (catchAll is not null)
            {
                warnings.Add(new(path, $"never matches: rule '{catchAll}' before it matches every scan."));
            }
            else if ((when is null || IsEmpty(when)) && weights > 0)
            {
                catchAll = id;
            }

            normalised.Add(new RoutingRule { Id = id, Target = target, Split = split, When = when is null || IsEmpty(when) ? null : when });
        }

        var schedule = CheckSchedule(routing.Schedule ?? [], ownHosts);
        return new RoutingRules
        {
            TimeZone = zone,
            Rules = normalised,
            Schedule = schedule,
            Utm = routing.Utm is null ? null : CheckUtm(routing.Utm),
            PassQuery = routing.PassQuery,
            FallbackUrl = routing.FallbackUrl is null ? null : CheckUrl(routing.FallbackUrl, "routing.fallbackUrl", ownHosts),
        };
    }

    private static bool IsEmpty(RuleConditions when) =>
        when.Device is null && when.Os is null && when.Country is null && when.Language is null && when.Time is null;

    private static List<SplitVariant> CheckSplit(
        IReadOnlyList<SplitVariant> variants, string path, IReadOnlyCollection<string> ownHosts, List<RoutingProblem> warnings, out long total)
    {
        if (variants.Count is 0 or > MaxVariants)
        {
            Fail(path, $"a split has 1 to {MaxVariants} variants.");
        }

        var result = new List<SplitVariant>(variants.Count);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        total = 0;
        for (var i = 0; i < variants.Count; i++)
        {
            var variantPath = $"{path}[{i}]";
            var variant = variants[i] ?? Fail<SplitVariant>(variantPath, "a variant must be an object.");
            var id = variant.Id ?? ((char)('a' + i)).ToString();
            CheckId(id, variantPath + ".id");
            if (!ids.Add(id))
            {
                Fail(variantPath + ".id", $"variant id '{id}' is used twice.");
            }

            if (variant.Weight is < 0 or > MaxWeight)
            {
                Fail(variantPath + ".weight", $"weight must be from 0 to {MaxWeight}.");
            }

            total += variant.Weight;
            result.Add(new SplitVariant { Id = id, Target = CheckUrl(variant.Target, variantPath + ".target", ownHosts), Weight = variant.Weight });
        }

        if (total == 0)
        {
            warnings.Add(new(path, "never matches: every weight is 0."));
        }

        return result;
    }

    private static RuleConditions CheckConditions(RuleConditions when, string path, string? zone, DateTimeOffset now, List<RoutingProblem> warnings)
    {
        var device = CheckList(when.Device, path + ".device", v => v.ToLowerInvariant(), v => Devices.Contains(v), $"one of {string.Join(", ", Devices)}", warnings);
        var os = CheckList(when.Os, path + ".os", v => v.ToLowerInvariant(), v => OsFamily.Names.Contains(v), $"one of {string.Join(", ", OsFamily.Names)}", warnings);
        var country = CheckList(when.Country, path + ".country", v => v.ToUpperInvariant(), v => CountryPattern().IsMatch(v), "ISO 3166-1 alpha-2 codes such as FR", warnings);
        var language = CheckList(when.Language, path + ".language", v => v.ToLowerInvariant(), v => LanguagePattern().IsMatch(v), "ISO 639 language codes such as fr", warnings);
        var time = when.Time is null ? null : CheckWindow(when.Time, path + ".time", zone, now, warnings);
        return new RuleConditions { Device = device, Os = os, Country = country, Language = language, Time = time };
    }

    private static List<string>? CheckList(
        IReadOnlyList<string>? values, string path, Func<string, string> normalise, Func<string, bool> valid, string expected, List<RoutingProblem> warnings)
    {
        if (values is null)
        {
            return null;
        }

        if (values.Count > MaxListValues)
        {
            Fail(path, $"at most {MaxListValues} values.");
        }

        if (values.Count == 0)
        {
            warnings.Add(new(path, "never matches: the list is empty."));
        }

        var result = new List<string>(values.Count);
        foreach (var raw in values)
        {
            var value = normalise(raw?.Trim() ?? string.Empty);
            if (!valid(value))
            {
                Fail(path, $"'{Shorten(raw)}' is not valid here: expected {expected}.");
            }

            if (!result.Contains(value))
            {
                result.Add(value);
            }
        }

        return result;
    }

    private static TimeWindow CheckWindow(TimeWindow window, string path, string? routingZone, DateTimeOffset now, List<RoutingProblem> warnings)
    {
        var zone = window.TimeZone is null ? null : CheckZone(window.TimeZone, path + ".timeZone");
        var days = CheckList(window.Days, path + ".days", v => v.ToLowerInvariant(), v => DayNames.Contains(v), "mon, tue, wed, thu, fri, sat or sun", warnings);
        if ((window.From is null) != (window.To is null))
        {
            Fail(path, "from and to go together (omit both for the whole day).");
        }

        if (window.From is not null)
        {
            var from = ParseMinutes(window.From, path + ".from", allowEndOfDay: false);
            var to = ParseMinutes(window.To!, path + ".to", allowEndOfDay: true);
            if (from == to)
            {
                Fail(path + ".to", "to must differ from from (omit both for the whole day).");
            }
        }

        var start = window.StartDate is null ? (DateOnly?)null : ParseDate(window.StartDate, path + ".startDate");
        var end = window.EndDate is null ? (DateOnly?)null : ParseDate(window.EndDate, path + ".endDate");
        if (start > end)
        {
            warnings.Add(new(path, "never matches: endDate is before startDate."));
        }
        else if (end is { } last)
        {
            var tz = RoutingTable.FindZone(zone ?? routingZone);
            if (DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, tz).DateTime) > last)
            {
                warnings.Add(new(path + ".endDate", "never matches again: the window has ended."));
            }
        }

        return window with { Days = days, TimeZone = zone };
    }

    private static List<ScheduledTarget> CheckSchedule(IReadOnlyList<ScheduledTarget> entries, IReadOnlyCollection<string> ownHosts)
    {
        if (entries.Count > MaxScheduleEntries)
        {
            Fail("routing.schedule", $"at most {MaxScheduleEntries} entries.");
        }

        var result = new List<ScheduledTarget>(entries.Count);
        for (var i = 0; i < entries.Count; i++)
        {
            var path = $"routing.schedule[{i}]";
            var entry = entries[i] ?? Fail<ScheduledTarget>(path, "an entry must be an object.");
            if (entry.At is null)
            {
                Fail(path + ".at", "at is required (a date-time with an offset, e.g. 2026-03-29T09:00:00+02:00).");
            }

            if (result.Any(e => e.At == entry.At))
            {
                Fail(path + ".at", "two entries at the same instant.");
            }

            result.Add(new ScheduledTarget { At = entry.At!.Value.ToUniversalTime(), Target = CheckUrl(entry.Target, path + ".target", ownHosts) });
        }

        result.Sort((a, b) => a.At!.Value.CompareTo(b.At!.Value));
        return result;
    }

    private static UtmParameters CheckUtm(UtmParameters utm) => new()
    {
        Source = CheckUtmValue(utm.Source, "routing.utm.source"),
        Medium = CheckUtmValue(utm.Medium, "routing.utm.medium"),
        Campaign = CheckUtmValue(utm.Campaign, "routing.utm.campaign"),
        Term = CheckUtmValue(utm.Term, "routing.utm.term"),
        Content = CheckUtmValue(utm.Content, "routing.utm.content"),
    };

    private static string? CheckUtmValue(string? value, string path)
    {
        if (value is null)
        {
            return null;
        }

        if (value.Length is 0 or > MaxUtmLength || value.Any(char.IsControl))
        {
            Fail(path, $"must be 1-{MaxUtmLength} characters without control characters.");
        }

        return value;
    }

    private static string CheckUrl(string? url, string path, IReadOnlyCollection<string> ownHosts)
    {
        if (TargetUrl.Validate(url, ownHosts) is { } problem)
        {
            Fail(path, problem.Replace("targetUrl", path, StringComparison.Ordinal));
        }

        return TargetUrl.Normalize(url!);
    }

    private static string CheckZone(string zone, string path)
    {
        if (!TimeZoneInfo.TryFindSystemTimeZoneById(zone, out var found) || !found.HasIanaId)
        {
            Fail(path, $"'{Shorten(zone)}' is not an IANA time zone (e.g. Europe/Paris).");
        }

        return zone;
    }

    private static void CheckId(string id, string path)
    {
        if (!IdPattern().IsMatch(id) || id == RoutingTable.DefaultRoute)
        {
            Fail(path, $"an id is 1-40 letters, digits, '-' or '_', and not '{RoutingTable.DefaultRoute}'.");
        }
    }

    /// <summary>Minutes since midnight of <c>HH:mm</c>.</summary>
    internal static int ParseMinutes(string value, string path, bool allowEndOfDay)
    {
        if (allowEndOfDay && value == "24:00")
        {
            return 24 * 60;
        }

        if (!TimeOnly.TryParseExact(value, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var time))
        {
            Fail(path, $"'{Shorten(value)}' is not a time of day HH:mm{(allowEndOfDay ? " (or 24:00)" : string.Empty)}.");
        }

        return time.Hour * 60 + time.Minute;
    }

    internal static DateOnly ParseDate(string value, string path)
    {
        if (!DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            Fail(path, $"'{Shorten(value)}' is not a date yyyy-MM-dd.");
        }

        return date;
    }

    private static string Shorten(string? value) => value is null ? "null" : value.Length > 40 ? value[..40] + "…" : value;

    private static void Fail(string field, string message) => throw new Invalid(new RoutingProblem(field, $"{field}: {message}"));

    private static T Fail<T>(string field, string message) => throw new Invalid(new RoutingProblem(field, $"{field}: {message}"));

    private sealed class Invalid(RoutingProblem problem) : Exception(problem.Message)
    {
        public RoutingProblem Problem { get; } = problem;
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,40}$")]
    private static partial Regex IdPattern();

    [GeneratedRegex("^[A-Z]{2}$")]
    private static partial Regex CountryPattern();

    [GeneratedRegex("^[a-z]{2,3}$")]
    private static partial Regex LanguagePattern();
}
