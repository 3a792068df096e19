using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InvexQr.IntegrationTests.Infrastructure;

namespace InvexQr.IntegrationTests.Http;

/// <summary>Owners of their own, for tests that share one host's database but need lists and summaries nobody else touches.</summary>
public static class OwnerClients
{
    /// <summary>Creates the owner <paramref name="name"/> with the admin key; returns its first API key.</summary>
    public static async Task<string> CreateOwnerAsync(this GatewayHost host, string name)
    {
        using var response = await host.Http.PostAsJsonAsync("/api/owners", new { name });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("apiKey").GetProperty("key").GetString()!;
    }

    /// <summary>A client (no redirects) of a new owner <paramref name="name"/>.</summary>
    public static async Task<HttpClient> CreateOwnerClientAsync(this GatewayHost host, string name) =>
        host.CreateClient(await host.CreateOwnerAsync(name));
}
