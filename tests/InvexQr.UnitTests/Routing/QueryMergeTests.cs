using InvexQr.Grains.Routing;

namespace InvexQr.UnitTests.Routing;

public sealed class QueryMergeTests
{
    private static readonly KeyValuePair<string, string>[] Utm = [new("utm_source", "qr code"), new("utm_medium", "print&web")];

    [Theory]
    [InlineData("https://example.org/", "https://example.org/?utm_source=qr%20code&utm_medium=print%26web")]
    [InlineData("https://example.org/a?b=1", "https://example.org/a?b=1&utm_source=qr%20code&utm_medium=print%26web")]
    [InlineData("https://example.org/a?b=1#frag", "https://example.org/a?b=1&utm_source=qr%20code&utm_medium=print%26web#frag")]
    [InlineData("https://example.org/a#frag?not=query", "https://example.org/a?utm_source=qr%20code&utm_medium=print%26web#frag?not=query")]
    [InlineData("https://example.org/a?", "https://example.org/a?utm_source=qr%20code&utm_medium=print%26web")]
    [InlineData("https://example.org/a?utm_source=x&b=2&&", "https://example.org/a?b=2&utm_source=qr%20code&utm_medium=print%26web")]
    [InlineData("https://example.org/a?utm%5Fsource=encoded", "https://example.org/a?utm_source=qr%20code&utm_medium=print%26web")]
    public void Utm_parameters_replace_their_namesakes_and_keep_the_fragment_last(string target, string expected) =>
        Assert.Equal(expected, QueryMerge.Merge(target, Utm, null));

    [Theory]
    [InlineData("https://example.org/a", "?x=1&y=two", "https://example.org/a?x=1&y=two")]
    [InlineData("https://example.org/a?x=owner#f", "x=scanner&z=3", "https://example.org/a?x=owner&z=3#f")]
    [InlineData("https://example.org/a", "?q=a+b&e=%C3%A9", "https://example.org/a?q=a+b&e=%C3%A9")] // encoding kept as sent
    [InlineData("https://example.org/a", "?bad=50%&sp=a b&h=x#y", "https://example.org/a?bad=50%25&sp=a%20b&h=x%23y")]
    [InlineData("https://example.org/a", "?n=é\"<", "https://example.org/a?n=%C3%A9%22%3C")]
    [InlineData("https://example.org/a", "?&&flag", "https://example.org/a?flag")]
    public void The_scan_query_is_appended_safely_and_never_overrides_the_target(string target, string scanQuery, string expected) =>
        Assert.Equal(expected, QueryMerge.Merge(target, [], scanQuery));

    [Fact]
    public void Nothing_to_merge_returns_the_target_itself()
    {
        const string target = "https://example.org/a?b=1#c";
        Assert.Same(target, QueryMerge.Merge(target, [], null));
        Assert.Same(target, QueryMerge.Merge(target, [], string.Empty));
    }

    [Fact]
    public void A_query_that_would_make_the_url_too_long_is_left_out()
    {
        var merged = QueryMerge.Merge("https://example.org/a?b=1", Utm, "?long=" + new string('x', QueryMerge.MaxLength));
        Assert.Equal("https://example.org/a?b=1&utm_source=qr%20code&utm_medium=print%26web", merged);
    }

    [Theory]
    [InlineData("fr-CA,fr;q=0.9,en;q=0.8", "fr")]
    [InlineData("en;q=0.5, DE-at", "de")]
    [InlineData("*", null)]
    [InlineData("", null)]
    [InlineData("x-klingon, i-default;q=0.5, es;q=0.1", "es")]
    [InlineData("en;q=abc, it;q=0.2", "it")]
    [InlineData("pt-BR;q=0, en;q=0.1", "en")]
    public void The_preferred_language_is_the_primary_subtag_with_the_highest_q(string header, string? expected) =>
        Assert.Equal(expected, AcceptLanguage.Primary(header));

    [Theory]
    [InlineData("iOS", "ios")]
    [InlineData("Android", "android")]
    [InlineData("Windows", "windows")]
    [InlineData("Mac OS X", "macos")]
    [InlineData("Ubuntu", "linux")]
    [InlineData("Chrome OS", "chromeos")]
    [InlineData("BlackBerry OS", "other")]
    [InlineData(null, "other")]
    public void Os_names_from_user_agents_map_to_families(string? os, string family) => Assert.Equal(family, OsFamily.Of(os));
}
