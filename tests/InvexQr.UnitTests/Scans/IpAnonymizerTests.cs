using InvexQr.Abstractions;
using InvexQr.Grains.Scans;

namespace InvexQr.UnitTests.Scans;

public sealed class IpAnonymizerTests
{
    [Theory]
    [InlineData("203.0.113.77", "203.0.113.0")]
    [InlineData("2001:db8:abcd:12:34:56:78:9a", "2001:db8:abcd::")]
    [InlineData("::ffff:198.51.100.23", "198.51.100.0")] // IPv4-mapped IPv6 is treated as IPv4
    [InlineData("127.0.0.1", "127.0.0.0")]
    public void Addresses_keep_only_their_network_part(string ip, string expected) =>
        Assert.Equal(expected, IpAnonymizer.Truncate(ip));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not-an-ip")]
    public void Anything_unparseable_is_stored_as_unknown(string? ip) => Assert.Null(IpAnonymizer.Truncate(ip));
}
