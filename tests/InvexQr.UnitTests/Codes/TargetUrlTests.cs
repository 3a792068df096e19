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
}
