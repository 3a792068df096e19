using System.Net;
using InvexQr.Grains.Webhooks;

namespace InvexQr.UnitTests.Webhooks;

public sealed class WebhookAddressPolicyTests
{
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.8.9.10")]
    [InlineData("::1")]
    [InlineData("169.254.169.254")]
    [InlineData("fe80::1")]
    [InlineData("10.1.2.3")]
    [InlineData("172.16.0.1")]
    [InlineData("172.31.255.255")]
    [InlineData("192.168.1.1")]
    [InlineData("100.64.0.1")]
    [InlineData("fd00::1")]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("::ffff:10.0.0.1")]
    [InlineData("64:ff9b::a9fe:a9fe")]
    [InlineData("0.0.0.0")]
    [InlineData("::")]
    [InlineData("224.0.0.1")]
    [InlineData("255.255.255.255")]
    public void Internal_and_unroutable_addresses_are_refused(string address) =>
        Assert.NotNull(WebhookAddressPolicy.Refusal(IPAddress.Parse(address), allowPrivate: false));

    [Theory]
    [InlineData("93.184.215.14")]
    [InlineData("8.8.8.8")]
    [InlineData("172.32.0.1")]
    [InlineData("2606:2800:21f:cb07:6820:80da:af6b:8b2c")]
    [InlineData("::ffff:8.8.8.8")]
    public void Public_addresses_are_allowed(string address) =>
        Assert.Null(WebhookAddressPolicy.Refusal(IPAddress.Parse(address), allowPrivate: false));

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("10.1.2.3")]
    [InlineData("fd00::1")]
    public void The_operator_setting_allows_internal_addresses(string address) =>
        Assert.Null(WebhookAddressPolicy.Refusal(IPAddress.Parse(address), allowPrivate: true));

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("224.0.0.1")]
    public void Unroutable_addresses_stay_refused_even_when_allowed(string address) =>
        Assert.NotNull(WebhookAddressPolicy.Refusal(IPAddress.Parse(address), allowPrivate: true));
}

public sealed class WebhookSignatureTests
{
    private static readonly byte[] Body = "{\"events\":[]}"u8.ToArray();

    [Fact]
    public void A_signature_verifies_only_with_its_secret_body_and_a_fresh_timestamp()
    {
        var secret = WebhookSignature.NewSecret();
        var now = DateTimeOffset.UtcNow;
        var header = WebhookSignature.HeaderValue(secret, now.ToUnixTimeSeconds(), Body);

        Assert.Matches("^t=[0-9]+,v1=[0-9a-f]{64}$", header);
        Assert.True(WebhookSignature.Verify(secret, header, Body, now, TimeSpan.FromMinutes(5)));
        Assert.False(WebhookSignature.Verify(secret + "x", header, Body, now, TimeSpan.FromMinutes(5)));
        Assert.False(WebhookSignature.Verify(secret, header, "{\"events\":[1]}"u8, now, TimeSpan.FromMinutes(5)));
        Assert.False(WebhookSignature.Verify(secret, header, Body, now.AddMinutes(6), TimeSpan.FromMinutes(5)));
        Assert.False(WebhookSignature.Verify(secret, "v1=" + header.Split("v1=")[1], Body, now, TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public void The_signature_is_hmac_sha256_over_timestamp_dot_body()
    {
        // Known answer: HMAC-SHA256(key "whsec_test", "1700000000.{\"events\":[]}").
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData(
            "whsec_test"u8.ToArray(), "1700000000.{\"events\":[]}"u8.ToArray()));
        Assert.Equal($"t=1700000000,v1={expected}", WebhookSignature.HeaderValue("whsec_test", 1700000000, Body));
    }

    [Fact]
    public void Secrets_are_random_and_long()
    {
        var a = WebhookSignature.NewSecret();
        Assert.NotEqual(a, WebhookSignature.NewSecret());
        Assert.True(a.Length >= 48, a);
    }
}
