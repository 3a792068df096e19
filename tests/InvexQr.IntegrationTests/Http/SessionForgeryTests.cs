using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using InvexQr.Gateway.Auth;
using InvexQr.IntegrationTests.Infrastructure;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace InvexQr.IntegrationTests.Http;

/// <summary>
/// Dashboard sessions cannot be made by someone who can read the database, and last no longer than the configured
/// lifetime whatever expiry their cookie names.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class SessionForgeryTests(PostgresServer postgres, SharedGatewayHost shared) : IClassFixture<SharedGatewayHost>, IAsyncLifetime
{
    private GatewayHost _deployment = null!;

    public async Task InitializeAsync() => _deployment = await shared.GetAsync(postgres);

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_cookie_forged_from_the_database_contents_is_refused()
    {
        // An admin with a stored key, and a sign-in so that the gateway has written its key ring.
        using var created = await _deployment.Http.PostAsJsonAsync("/api/owners", new { name = "forgery-victim", role = "admin" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using (var signIn = await _deployment.CreateClient().PostAsJsonAsync("/app/session", new { apiKey = GatewayHost.ApiKey }))
        {
            Assert.Equal(HttpStatusCode.NoContent, signIn.StatusCode);
        }

        // What a database reader sees: the key ring and the key hashes.
        var ring = new List<XElement>();
        byte[] keyHash;
        await using (var connection = new NpgsqlConnection(_deployment.ConnectionString))
        {
            await connection.OpenAsync();
            await using (var keys = new NpgsqlCommand("SELECT xml FROM dashboard_keys", connection))
            await using (var reader = await keys.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    ring.Add(XElement.Parse(reader.GetString(0)));
                }
            }

            await using var hash = new NpgsqlCommand(
                "SELECT k.key_hash FROM api_keys k JOIN owners o ON o.id = k.owner_id WHERE o.name = 'forgery-victim'", connection);
            keyHash = (byte[])(await hash.ExecuteScalarAsync())!;
        }

        Assert.NotEmpty(ring);
        Assert.All(ring, key =>
        {
            Assert.Contains("encryptedSecret", key.ToString());
            Assert.DoesNotContain("<masterKey", key.ToString());
        });

        // Data protection built from that ring, as the gateway builds its own, and every cookie format it could mean.
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDataProtection().SetApplicationName("InvexQR");
        services.Configure<KeyManagementOptions>(o => o.XmlRepository = new CopiedRing(ring));
        await using var provider = services.BuildServiceProvider();
        var dataProtection = provider.GetRequiredService<IDataProtectionProvider>();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var expiry = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();
        var forgeries = new[]
        {
            dataProtection.CreateProtector("InvexQr.Dashboard.Session.v1").Protect($"1|{Guid.NewGuid():N}|{Convert.ToHexString(keyHash)}|{expiry}"),
            dataProtection.CreateProtector("InvexQr.Dashboard.Session.v2").Protect($"2|{Guid.NewGuid():N}|{now}|{expiry}|{Convert.ToBase64String(keyHash)}"),
        };

        using var plain = _deployment.CreateClient();
        foreach (var forged in forgeries)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/app/session");
            request.Headers.Add("Cookie", $"invexqr_session={forged}");
            using var response = await plain.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
    }

    [Fact]
    public async Task A_cookie_naming_a_far_expiry_lasts_no_longer_than_the_configured_lifetime()
    {
        var keyHash = SHA256.HashData(Encoding.UTF8.GetBytes(GatewayHost.ApiKey));
        var dataProtection = _deployment.Get<IDataProtectionProvider>();
        var settings = _deployment.Get<DashboardSessionSettings>();
        Assert.Equal(TimeSpan.FromHours(8), settings.Lifetime);

        // Made with the gateway's own keys and secret: accepted as made now with its lifetime, refused otherwise.
        var fresh = new DashboardSessions(dataProtection, TimeProvider.System, settings).Create(keyHash).Value;
        var issuedInTheFuture = new DashboardSessions(dataProtection, new ShiftedClock(TimeSpan.FromDays(3650)), settings).Create(keyHash).Value;
        var longLived = new DashboardSessions(dataProtection, new ShiftedClock(TimeSpan.FromHours(-9)), settings with { Lifetime = TimeSpan.FromDays(30) })
            .Create(keyHash).Value;

        Assert.Equal(HttpStatusCode.OK, await WhoAmIAsync(fresh));
        Assert.Equal(HttpStatusCode.Unauthorized, await WhoAmIAsync(issuedInTheFuture));
        Assert.Equal(HttpStatusCode.Unauthorized, await WhoAmIAsync(longLived));
    }

    private async Task<HttpStatusCode> WhoAmIAsync(string cookie)
    {
        using var plain = _deployment.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/app/session");
        request.Headers.Add("Cookie", $"invexqr_session={cookie}");
        using var response = await plain.SendAsync(request);
        return response.StatusCode;
    }

    private sealed class ShiftedClock(TimeSpan offset) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => DateTimeOffset.UtcNow + offset;
    }

    private sealed class CopiedRing(List<XElement> elements) : IXmlRepository
    {
        public IReadOnlyCollection<XElement> GetAllElements() => elements.ToList();

        public void StoreElement(XElement element, string friendlyName) => elements.Add(element);
    }
}
