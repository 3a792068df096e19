using InvexQr.Abstractions;
using InvexQr.ServiceDefaults;
using InvexQr.Silo.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Time.Testing;

namespace InvexQr.UnitTests.Hosting;

/// <summary>The admin key rule (AdminKeyPolicy) and the caller tokens grains check (GrainCallerTokens).</summary>
public sealed class TrustSettingsTests
{
    [Theory]
    [InlineData("local-admin-key-change-me", "change-me")]
    [InlineData("CHANGEME-0123456789abcdefghijkl", "changeme")]
    [InlineData("an-example-admin-key-0123456789", "example")]
    [InlineData("placeholder-0123456789abcdefghij", "placeholder")]
    [InlineData("9f3a1c7e2b", "10 characters long")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "fewer than 8 distinct")]
    public void Weak_admin_keys_are_refused_with_the_reason(string key, string reason)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection([new(AdminKeyPolicy.Setting, key)]).Build();
        var refused = Assert.Throws<StartupConfigurationException>(() => AdminKeyPolicy.EnsureStrong(configuration));
        Assert.Contains(reason, refused.Message);
        Assert.Contains("Auth__ApiKey", refused.Message);
    }

    [Fact]
    public void A_random_admin_key_and_no_admin_key_are_accepted()
    {
        Assert.Null(AdminKeyPolicy.Weakness("iqr_4Jq9Zx2LmT7wRb3NcV8pKd1YhF6s"));
        AdminKeyPolicy.EnsureStrong(new ConfigurationBuilder().Build());
    }

    [Fact]
    public void A_caller_token_holds_only_for_the_key_it_was_signed_with_unaltered_and_unexpired()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2025-06-01T12:00:00Z"));
        var tokens = Tokens("admin-key-0123456789abcdefghij", clock);
        var token = tokens.Sign(new GrainCaller(42, Roles.Owner));

        Assert.Equal(new GrainCaller(42, Roles.Owner), tokens.Verify(token));
        Assert.Equal(new GrainCaller(42, Roles.Owner), Tokens("admin-key-0123456789abcdefghij", clock).Verify(token)); // another process, same key
        Assert.Null(Tokens("another-admin-key-0123456789abc", clock).Verify(token));
        Assert.Null(tokens.Verify(token.Replace("v1.42.", "v1.43.", StringComparison.Ordinal)));
        Assert.Null(tokens.Verify(token.Replace(".owner.", ".admin.", StringComparison.Ordinal)));
        Assert.Null(tokens.Verify("v1.-.admin.99999999999.AAAA"));
        Assert.Null(tokens.Verify(null));
        Assert.Equal(GrainCaller.Operator, tokens.Verify(tokens.Sign(GrainCaller.Operator)));

        clock.Advance(GrainCallerTokens.Lifetime + TimeSpan.FromSeconds(1));
        Assert.Null(tokens.Verify(token));
    }

    private static GrainCallerTokens Tokens(string adminKey, TimeProvider clock) =>
        GrainCallerTokens.FromConfiguration(new ConfigurationBuilder().AddInMemoryCollection([new(AdminKeyPolicy.Setting, adminKey)]).Build(), clock);
}
