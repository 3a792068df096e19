using System.Net;
using System.Net.Http.Json;
using InvexQr.IntegrationTests.Infrastructure;
using Microsoft.Playwright;

namespace InvexQr.IntegrationTests.Http;

/// <summary>
/// Routing rules edited in the owners' dashboard, in the system Chromium driven by Playwright (as
/// <see cref="DashboardBrowserTests"/>): rules typed into the editor, previewed, saved, then obeyed by <c>/r/{code}</c>,
/// and the split shown on the code's page.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class RoutingDashboardTests(PostgresServer postgres) : IAsyncLifetime
{
    private const string IPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
    private const string Desktop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36";

    private GatewayHost _host = null!;
    private HeadlessChromium _chromium = null!;

    public async Task InitializeAsync()
    {
        _host = await GatewayHost.StartAsync(postgres, new Dictionary<string, string?> { ["Network:TrustedProxies:0"] = "127.0.0.1" });
        _chromium = await HeadlessChromium.LaunchAsync();
    }

    public async Task DisposeAsync()
    {
        if (_chromium is not null)
        {
            await _chromium.DisposeAsync();
        }

        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    [Fact]
    public async Task An_owner_edits_rules_previews_a_scan_saves_and_sees_the_split()
    {
        using (var created = await _host.Http.PostAsJsonAsync("/api/codes", new { targetUrl = "https://example.org/web", code = "route-dash" }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var context = await _chromium.NewContextAsync(new() { BaseURL = _host.BaseAddress.ToString() });
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, e) => errors.Add(e);
        await page.GotoAsync("/#/codes/route-dash/edit");
        await page.GetByLabel("API key").FillAsync(GatewayHost.ApiKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.GetByRole(AriaRole.Heading, new() { Name = "Edit route-dash" }).WaitForAsync();

        // A rule for iPhones and a catch-all split; previewed before saving.
        await page.GetByLabel("Routing rules (optional, JSON)").FillAsync("""
            {"rules":[
              {"id":"ios","when":{"os":["ios"],"device":["mobile"]},"target":"https://apps.apple.com/app/id42"},
              {"id":"ab","split":[{"id":"a","target":"https://example.org/a","weight":1},{"id":"b","target":"https://example.org/b","weight":1}]}
            ]}
            """);
        await page.Locator("#preview-device").SelectOptionAsync("mobile");
        await page.Locator("#preview-os").SelectOptionAsync("ios");
        await page.GetByRole(AriaRole.Button, new() { Name = "Preview" }).ClickAsync();
        await Expect(page.Locator("#preview-target"), "https://apps.apple.com/app/id42");
        await page.Locator("#preview-os").SelectOptionAsync("android");
        await page.GetByRole(AriaRole.Button, new() { Name = "Preview" }).ClickAsync();
        await page.WaitForFunctionAsync("() => /A\\/B: ab\\/a 50%, ab\\/b 50%/.test(document.getElementById('preview-result').textContent)");
        // Nothing is saved by a preview.
        Assert.Equal("https://example.org/web", (await LocationAsync(IPhone, "81.2.69.1")));

        // An invalid rule is refused with the field named, then fixed and saved.
        await page.GetByLabel("Routing rules (optional, JSON)").FillAsync("""{"rules":[{"when":{"os":["symbian"]},"target":"https://example.org/x"}]}""");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await page.WaitForFunctionAsync("() => document.querySelector('form .error').textContent.includes('routing.rules[0].when.os')");
        await page.GetByLabel("Routing rules (optional, JSON)").FillAsync("""
            {"rules":[
              {"id":"ios","when":{"os":["ios"],"device":["mobile"]},"target":"https://apps.apple.com/app/id42"},
              {"id":"ab","split":[{"id":"a","target":"https://example.org/a","weight":1},{"id":"b","target":"https://example.org/b","weight":1}]}
            ]}
            """);
        await page.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await page.WaitForFunctionAsync("() => location.hash === '#/codes/route-dash' && document.getElementById('code-title') !== null");

        // The very next scans obey the saved rules.
        Assert.Equal("https://apps.apple.com/app/id42", await LocationAsync(IPhone, "81.2.69.1"));
        var variants = new HashSet<string?>();
        for (var i = 1; i <= 20; i++)
        {
            variants.Add(await LocationAsync(Desktop, $"198.51.100.{i}"));
        }

        Assert.Equal(["https://example.org/a", "https://example.org/b"], variants.Order());

        // The code's page shows the split with its counts.
        await _host.FlushAsync();
        // A DOM click, not a pointer one: in one CI run the pointer click waited 60 s for the renderer to take the
        // input while the rolling test held both cores (DashboardBrowserTests clicks the button as a user would).
        await page.Locator("#refresh").DispatchEventAsync("click");
        await page.WaitForFunctionAsync("() => document.querySelector('main').dataset.scans === '22'", null, new() { Timeout = 30_000 });
        var summary = await page.Locator("[data-summary=routes]").TextContentAsync();
        Assert.Matches(@"Split ab: a \d+\.\d % ± \d+\.\d %, b \d+\.\d % ± \d+\.\d % of 20 scans; too few scans yet to compare\.", summary);
        // The table sits in a closed <details>: read its cells' text, not what is rendered.
        var rows = await page.Locator(".figure.routes tbody tr").EvaluateAllAsync<string[]>(
            "rows => rows.map(r => [...r.cells].map(c => c.textContent).join('|'))");
        Assert.Contains("ios|1|4.8 %|9.1 %", rows);
        Assert.Equal(3, rows.Length);
        Assert.Empty(errors);
        Assert.Empty(await HeadlessChromium.CspViolationsAsync(page));
        await context.CloseAsync();
    }

    private async Task<string?> LocationAsync(string userAgent, string address)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/r/route-dash");
        request.Headers.TryAddWithoutValidation("User-Agent", userAgent);
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", address);
        using var response = await _host.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        return response.Headers.Location?.OriginalString;
    }

    private static async Task Expect(ILocator locator, string text)
    {
        await locator.WaitForAsync();
        Assert.Equal(text, await locator.TextContentAsync());
    }
}
