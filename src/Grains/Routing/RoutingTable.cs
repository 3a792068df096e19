using System.Globalization;

namespace InvexQr.Grains.Routing;

/// <summary>What routing needs to know about one scan. <paramref name="VisitorKey"/> keeps an A/B split sticky (the daily visitor hash).</summary>
/// <param name="Os">The OS as the user agent names it (uap-core) or an OS family name.</param>
/// <param name="Query">The scan's raw query string, for pass-through; null for none.</param>
public readonly record struct ScanContext(
    string? DeviceType, string? Os, string? Country, string? AcceptLanguage, string? Query, ulong VisitorKey)
{
    public static readonly ScanContext None = default;
}

/// <summary>Where a scan goes, and which rule (<c>rule</c> or <c>rule/variant</c>) or <c>default</c> sent it there.</summary>
public readonly record struct RouteDecision(string Target, string Route);

/// <summary>
/// A code's routing compiled for its scans: time zones resolved, sets built, the schedule as sorted instants, and the
/// UTM-merged form of every target computed once. <see cref="Route"/> is the one function that decides a scan, in the
/// grain and in the API's preview alike: pure, no I/O, no allocation unless the scan's query is passed through.
/// </summary>
public sealed class RoutingTable
{
    public const string DefaultRoute = "default";

    private readonly CompiledRule[] _rules;
    private readonly long[] _scheduleTicks;
    private readonly string[] _scheduleTargets;
    private readonly string _defaultTarget;
    private readonly KeyValuePair<string, string>[] _utm;
    private readonly bool _passQuery;

    private RoutingTable(RoutingRules rules, string defaultTarget)
    {
        Rules = rules;
        _utm = UtmPairs(rules.Utm);
        _passQuery = rules.PassQuery;
        _defaultTarget = Prepare(defaultTarget);
        var zone = FindZone(rules.TimeZone);
        _rules = [.. (rules.Rules ?? []).Select((rule, index) => new CompiledRule(rule, index, zone, Prepare))];
        var schedule = (rules.Schedule ?? []).Where(e => e.At is not null && e.Target is not null).OrderBy(e => e.At).ToArray();
        _scheduleTicks = [.. schedule.Select(e => e.At!.Value.UtcTicks)];
        _scheduleTargets = [.. schedule.Select(e => Prepare(e.Target!))];
        FallbackUrl = rules.FallbackUrl;
    }

    /// <summary>The routing as stored (normalised by <see cref="RoutingValidation"/>).</summary>
    public RoutingRules Rules { get; }

    /// <summary>The code's own fallback URL for when it no longer redirects.</summary>
    public string? FallbackUrl { get; }

    /// <summary>Compiles validated routing for a code whose own target is <paramref name="defaultTarget"/>.</summary>
    public static RoutingTable Compile(RoutingRules rules, string defaultTarget) => new(rules, defaultTarget);

    /// <summary>The zone of that IANA id, UTC when none is given or this host does not know it.</summary>
    public static TimeZoneInfo FindZone(string? id) =>
        id is not null && TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone) ? zone : TimeZoneInfo.Utc;

    /// <summary>The target for a scan at <paramref name="now"/>: the first rule that matches, else the default in force then.</summary>
    public RouteDecision Route(in ScanContext scan, DateTimeOffset now)
    {
        LocalTime local = default;
        string? language = null;
        string? os = null;
        var languageRead = false;
        foreach (var rule in _rules)
        {
            if (rule.Matches(scan, now, ref local, ref language, ref languageRead, ref os) && rule.Choose(scan.VisitorKey) is { } chosen)
            {
                return new RouteDecision(Finish(chosen.Target, scan), chosen.Route);
            }
        }

        return new RouteDecision(Finish(DefaultAt(now), scan), DefaultRoute);
    }

    /// <summary>The default target in force at <paramref name="now"/>: a schedule entry takes over exactly at its instant.</summary>
    private string DefaultAt(DateTimeOffset now)
    {
        var ticks = now.UtcTicks;
        var index = Array.BinarySearch(_scheduleTicks, ticks);
        index = index >= 0 ? index : ~index - 1;
        return index >= 0 ? _scheduleTargets[index] : _defaultTarget;
    }

    private string Prepare(string target) => QueryMerge.Merge(target, _utm, null);

    private string Finish(string prepared, in ScanContext scan) =>
        _passQuery && !string.IsNullOrEmpty(scan.Query) ? QueryMerge.Merge(prepared, [], scan.Query) : prepared;

    private static KeyValuePair<string, string>[] UtmPairs(UtmParameters? utm)
    {
        if (utm is null)
        {
            return [];
        }

        var pairs = new List<KeyValuePair<string, string>>();
        void Add(string name, string? value)
        {
            if (value is not null)
            {
                pairs.Add(new(name, value));
            }
        }

        Add("utm_source", utm.Source);
        Add("utm_medium", utm.Medium);
        Add("utm_campaign", utm.Campaign);
        Add("utm_term", utm.Term);
        Add("utm_content", utm.Content);
        return [.. pairs];
    }

    /// <summary>The scan's wall-clock time in one zone, converted once per scan and zone.</summary>
    private struct LocalTime
    {
        public TimeZoneInfo? Zone;
        public DateTime Value;
    }

    private sealed class CompiledRule
    {
        private readonly string _id;
        private readonly string? _target;
        private readonly (string Route, string Target)[] _variants = [];
        private readonly int[] _cumulative = [];
        private readonly int _totalWeight;
        private readonly ulong _seed;
        private readonly HashSet<string>? _devices;
        private readonly HashSet<string>? _os;
        private readonly HashSet<string>? _countries;
        private readonly HashSet<string>? _languages;
        private readonly Window? _window;

        public CompiledRule(RoutingRule rule, int index, TimeZoneInfo zone, Func<string, string> prepare)
        {
            _id = rule.Id ?? $"r{index + 1}";
            _target = rule.Target is null ? null : prepare(rule.Target);
            if (rule.Split is { } split)
            {
                _variants = [.. split.Select((v, i) => ($"{_id}/{v.Id ?? ((char)('a' + i)).ToString()}", prepare(v.Target!)))];
                _cumulative = new int[split.Count];
                for (var i = 0; i < split.Count; i++)
                {
                    _totalWeight += Math.Max(0, split[i].Weight);
                    _cumulative[i] = _totalWeight;
                }
            }

            _seed = StableHash(_id);
            var when = rule.When;
            _devices = Set(when?.Device, StringComparer.OrdinalIgnoreCase);
            _os = Set(when?.Os, StringComparer.Ordinal);
            _countries = Set(when?.Country, StringComparer.OrdinalIgnoreCase);
            _languages = Set(when?.Language, StringComparer.Ordinal);
            _window = when?.Time is { } time ? new Window(time, time.TimeZone is null ? zone : FindZone(time.TimeZone)) : null;
        }

        public bool Matches(in ScanContext scan, DateTimeOffset now, ref LocalTime local, ref string? language, ref bool languageRead, ref string? os)
        {
            if (_devices is not null && (scan.DeviceType is null || !_devices.Contains(scan.DeviceType)))
            {
                return false;
            }

            if (_os is not null && !_os.Contains(os ??= OsFamily.Of(scan.Os)))
            {
                return false;
            }

            if (_countries is not null && (scan.Country is null || !_countries.Contains(scan.Country)))
            {
                return false;
            }

            if (_languages is not null)
            {
                if (!languageRead)
                {
                    language = AcceptLanguage.Primary(scan.AcceptLanguage);
                    languageRead = true;
                }

                if (language is null || !_languages.Contains(language))
                {
                    return false;
                }
            }

            return _window is null || _window.Contains(now, ref local);
        }

        public (string Route, string Target)? Choose(ulong visitor)
        {
            if (_target is not null)
            {
                return (_id, _target);
            }

            if (_totalWeight == 0)
            {
                return null;
            }

            // Mixed with the rule's id, so that two splits of one code place a visitor independently.
            var point = (int)(Mix(visitor ^ _seed) % (ulong)_totalWeight);
            for (var i = 0; i < _cumulative.Length; i++)
            {
                if (point < _cumulative[i])
                {
                    return _variants[i];
                }
            }

            return _variants[^1];
        }

        private static HashSet<string>? Set(IReadOnlyList<string>? values, StringComparer comparer) =>
            values is null ? null : new HashSet<string>(values, comparer);
    }

    private sealed class Window
    {
        private readonly TimeZoneInfo _zone;
        private readonly int _days; // bit per DayOfWeek; all set when no days are given
        private readonly int _from;
        private readonly int _to;
        private readonly DateOnly? _start;
        private readonly DateOnly? _end;

        public Window(TimeWindow window, TimeZoneInfo zone)
        {
            _zone = zone;
            _days = window.Days is null ? 0x7F : window.Days.Aggregate(0, (bits, day) => bits | (1 << Array.IndexOf(RoutingValidation.DayNames, day)));
            _from = window.From is null ? 0 : RoutingValidation.ParseMinutes(window.From, "from", false);
            _to = window.To is null ? 24 * 60 : RoutingValidation.ParseMinutes(window.To, "to", true);
            _start = window.StartDate is null ? null : RoutingValidation.ParseDate(window.StartDate, "startDate");
            _end = window.EndDate is null ? null : RoutingValidation.ParseDate(window.EndDate, "endDate");
        }

        public bool Contains(DateTimeOffset now, ref LocalTime local)
        {
            if (!ReferenceEquals(local.Zone, _zone))
            {
                local.Zone = _zone;
                local.Value = TimeZoneInfo.ConvertTime(now, _zone).DateTime;
            }

            var time = local.Value;
            var minute = time.Hour * 60 + time.Minute;
            var day = DateOnly.FromDateTime(time);
            if (_from < _to)
            {
                if (minute < _from || minute >= _to)
                {
                    return false;
                }
            }
            else if (minute < _to)
            {
                day = day.AddDays(-1); // the part after midnight of a window that started the day before
            }
            else if (minute < _from)
            {
                return false;
            }

            return (_days & (1 << (int)day.DayOfWeek)) != 0 && !(day < _start) && !(day > _end);
        }
    }

    /// <summary>A visitor key for a preview, from any text naming a visitor.</summary>
    public static ulong VisitorKeyOf(string? text) => text is null ? 0 : Mix(StableHash(text));

    /// <summary>FNV-1a: the same on every silo and every run (string.GetHashCode is not).</summary>
    private static ulong StableHash(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return hash;
    }

    /// <summary>SplitMix64's finaliser: spreads any input evenly over 64 bits.</summary>
    private static ulong Mix(ulong x)
    {
        x ^= x >> 30;
        x *= 0xBF58476D1CE4E5B9UL;
        x ^= x >> 27;
        x *= 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{_rules.Length} rules, {_scheduleTicks.Length} scheduled");
}
