using InvexQr.Abstractions;
using InvexQr.Grains.Codes;

namespace InvexQr.UnitTests.Codes;

public sealed class TargetUrlTests
{
    [Theory]
    [InlineData("https://example.org/")]
    [InlineData("http://example.org/path?q=1#frag")]
    [InlineData("https://xn--bcher-kva.example/")]
    public void Absolute_http_urls_are_valid(string url) => Assert.Null(TargetUrl.Validate(url));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("javascript:alert(1)")]
    [InlineData("data:text/html,<script>alert(1)</script>")]
    [InlineData("file:///etc/passwd")]
    [InlineData("ftp://example.org/")]
    [InlineData("/relative/path")]
    [InlineData("example.org")]
    public void Everything_else_is_rejected_with_a_message(string? url) => Assert.NotNull(TargetUrl.Validate(url));

    [Fact]
    public void Overlong_urls_are_rejected() =>
        Assert.Contains("at most", TargetUrl.Validate("https://example.org/" + new string('a', TargetUrl.MaxLength)));

    [Theory]
    [InlineData("https://qr.example.com/r/abc123")]
    [InlineData("https://QR.EXAMPLE.COM/r/other")]
    [InlineData("http://localhost:8080/r/x")]
    public void Our_own_short_urls_are_refused_as_redirect_loops(string url) =>
        Assert.Contains("loop", TargetUrl.Validate(url, ["qr.example.com", "localhost:8080"]));

    [Theory]
    [InlineData("http://localhost/r/x")]
    [InlineData("http://LOCALHOST.:8080/r/x")]
    [InlineData("http://127.0.0.1./r/x")]
    [InlineData("http://127.1.2.3:9/r/x")]
    [InlineData("http://[::ffff:127.0.0.1]:8080/r/x")]
    [InlineData("http://[::1]/r/x")]
    [InlineData("http://2130706433/r/x")]
    [InlineData("http://0x7f000001/r/x")]
    [InlineData("http://0.0.0.0:8080/r/x")]
    [InlineData("http://app.localhost/r/x")]
    [InlineData("https://qr.example.com./r/x")]
    [InlineData("https://qr.example.com/R/x")]
    [InlineData("https://qr.example.com//r/x")]
    [InlineData("https://qr.example.com/%72/x")]
    [InlineData("https://qr.example.com:443/r/x")]
    public void Other_spellings_of_our_own_host_are_refused_too(string url) =>
        Assert.Contains("loop", TargetUrl.Validate(url, ["qr.example.com"]));

    [Fact]
    public void Our_host_given_as_an_address_matches_every_spelling_of_it()
    {
        Assert.Contains("loop", TargetUrl.Validate("http://[::ffff:192.0.2.7]/r/x", ["192.0.2.7:8080"]));
        Assert.Contains("loop", TargetUrl.Validate("http://3221225991/r/x", ["192.0.2.7"]));
        Assert.Null(TargetUrl.Validate("http://192.0.2.8/r/x", ["192.0.2.7"]));
    }

    [Fact]
    public void A_url_under_the_limit_but_over_it_once_percent_encoded_is_refused()
    {
        var url = "https://example.org/" + new string('é', 700); // 720 characters, 4,220 once encoded
        Assert.True(url.Length < TargetUrl.MaxLength);
        Assert.Contains("percent-encoded", TargetUrl.Validate(url));
    }

    [Fact]
    public void Other_paths_on_our_host_and_other_hosts_with_r_paths_are_fine()
    {
        Assert.Null(TargetUrl.Validate("https://qr.example.com/about", ["qr.example.com"]));
        Assert.Null(TargetUrl.Validate("https://elsewhere.example/r/abc", ["qr.example.com"]));
    }

    [Fact]
    public void Credentials_in_the_url_are_refused() =>
        Assert.NotNull(TargetUrl.Validate("https://user:secret@example.org/"));

    [Fact]
    public void Internationalised_hosts_are_stored_in_punycode() =>
        Assert.Equal("https://xn--bcher-kva.example/caf%C3%A9", TargetUrl.Normalize(" https://bücher.example/café "));
}
