using System.Net;
using System.Net.Http.Json;
using InvexQr.IntegrationTests.Infrastructure;
using InvexQr.Silo.Hosting.Webhooks;

namespace InvexQr.IntegrationTests.Http;

/// <summary>SSRF: with the default settings, webhook URLs that reach internal addresses are refused, at registration and at connection.</summary>
[Collection(PostgresCollection.Name)]
public sealed class WebhookSsrfTests(PostgresServer postgres, SharedGatewayHost shared) : IClassFixture<SharedGatewayHost>, IAsyncLifetime
{
    private GatewayHost _host = null!;

    public async Task InitializeAsync() => _host = await shared.GetAsync(postgres);

    public Task DisposeAsync() => Task.CompletedTask;

    [Theory]
    [InlineData("http://127.0.0.1:8080/hook", "loopback")]
    [InlineData("http://localhost:8080/hook", "loopback")]
    [InlineData("http://[::1]/hook", "loopback")]
    [InlineData("http://[::ffff:127.0.0.1]/hook", "loopback")]
    [InlineData("http://169.254.169.254/latest/meta-data/", "link-local")]
    [InlineData("http://10.0.0.5/hook", "private")]
    [InlineData("http://192.168.1.20/hook", "private")]
    [InlineData("http://172.20.0.1/hook", "private")]
    [InlineData("http://[fd12:3456::1]/hook", "private")]
    [InlineData("http://100.64.1.1/hook", "shared")]
    [InlineData("http://0.0.0.0/hook", "not a routable")]
    [InlineData("ftp://example.org/hook", "http or https")]
    [InlineData("https://user:pw@example.org/hook", "user name or password")]
    [InlineData("https://qr.example.com/r/abc", "short URL")]
    public async Task Internal_or_invalid_urls_are_refused_at_registration(string url, string reason)
    {
        using var response = await _host.Http.PostAsJsonAsync("/api/webhooks", new { url, events = new[] { "scan" } });
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("\"url\"", body);
        Assert.Contains(reason, body);
        Assert.Equal(0, await _host.ScalarAsync("SELECT count(*) FROM webhook_endpoints"));
    }

    [Fact]
    public async Task Bad_fields_are_named()
    {
        foreach (var (body, field) in new (object Body, string Field)[]
        {
            (new { url = "https://93.184.215.14/hook" }, "events"),
            (new { url = "https://93.184.215.14/hook", events = new[] { "scan", "nope" } }, "events"),
            (new { url = "https://93.184.215.14/hook", events = new[] { "scan" }, codes = new[] { "no-such-code" } }, "codes"),
            (new { url = "https://93.184.215.14/hook", events = new[] { "scan" }, tags = Array.Empty<string>() }, "tags"),
        })
        {
            using var response = await _host.Http.PostAsJsonAsync("/api/webhooks", body);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
            Assert.Contains($"\"{field}\"", text);
        }
    }

    [Fact]
    public async Task Deliveries_refuse_to_connect_to_internal_addresses_whatever_the_url_said()
    {
        // A receiver on loopback: what a public name re-pointed at 127.0.0.1 after registration would reach.
        await using var receiver = await WebhookReceiver.StartAsync();
        using var refusing = new HttpClient(WebhookTargets.CreateHandler(allowPrivate: false));
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => refusing.PostAsync(receiver.Url, new StringContent("{}")));
        Assert.IsType<WebhookAddressRefusedException>(error.InnerException);
        Assert.Contains("loopback", error.InnerException!.Message);
        Assert.Equal(0, receiver.Arrived);

        using var allowing = new HttpClient(WebhookTargets.CreateHandler(allowPrivate: true));
        using var response = await allowing.PostAsync(receiver.Url, new StringContent("{}"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, receiver.Arrived);
    }
}
