using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InvexQr.IntegrationTests.Infrastructure;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace InvexQr.IntegrationTests.Http;

/// <summary>
/// The owners' dashboard in a real browser: the system Chromium (Debian package chromium, installed by
/// test.sh) driven by Microsoft.Playwright, whose node driver ships inside the NuGet package; no browser
/// is downloaded, against a gateway with its silo in process. Screenshots go to TestResults/screenshots.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class DashboardBrowserTests(PostgresServer postgres, ITestOutputHelper output) : IAsyncLifetime
{
    private const string AndroidPhone = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36";
    private const string HostileTitle = "<img src=x onerror=alert(1)>";

    private GatewayHost _deployment = null!;
    private HeadlessChromium _chromium = null!;

    public static string ScreenshotDir { get; } = Path.Combine(Repo.Root, "TestResults", "screenshots");

    public async Task InitializeAsync()
    {
        _deployment = await GatewayHost.StartAsync(postgres, new Dictionary<string, string?>
        {
            ["Network:TrustedProxies:0"] = "127.0.0.1",
        });
        _chromium = await HeadlessChromium.LaunchAsync();
    }

    public async Task DisposeAsync()
    {
        if (_chromium is not null)
        {
            await _chromium.DisposeAsync();
        }

        if (_deployment is not null)
        {
            await _deployment.DisposeAsync();
        }
    }

    [Fact]
    public async Task An_owner_signs_in_creates_a_code_and_watches_its_scans_arrive_on_the_map()
    {
        Directory.CreateDirectory(ScreenshotDir);
        output.WriteLine($"screenshots: {ScreenshotDir}");
        var context = await _chromium.NewContextAsync(new() { BaseURL = _deployment.BaseAddress.ToString(), ViewportSize = new() { Width = 1280, Height = 900 } });
        var page = await context.NewPageAsync();
        var console = new List<string>();
        var errors = new List<string>();
        var dialogs = new List<string>();
        page.Console += (_, m) => console.Add($"{m.Type}: {m.Text}");
        page.PageError += (_, e) => errors.Add(e);
        page.Dialog += async (_, d) => { dialogs.Add($"{d.Type}: {d.Message}"); await d.DismissAsync(); };

        // Sign in.
        var response = await page.GotoAsync("/");
        Assert.NotNull(response);
        var headers = await response.AllHeadersAsync();
        Assert.Contains("script-src 'self'", headers["content-security-policy"]);
        await page.GetByLabel("API key").FillAsync(GatewayHost.ApiKey);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.GetByRole(AriaRole.Heading, new() { Name = "Your codes" }).WaitForAsync();

        var session = (await context.CookiesAsync()).Single(c => c.Name == "invexqr_session");
        Assert.True(session.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, session.SameSite);
        Assert.DoesNotContain(GatewayHost.ApiKey, session.Value);
        var storage = await page.EvaluateAsync<string>("() => JSON.stringify({ l: { ...localStorage }, s: { ...sessionStorage }, c: document.cookie })");
        Assert.DoesNotContain(GatewayHost.ApiKey, storage);
        Assert.DoesNotContain("invexqr_session", storage); // HttpOnly: not visible to scripts

        // Create a code through the form, with a title that would run script if it were inserted as HTML.
        await page.GetByRole(AriaRole.Link, new() { Name = "Create a code" }).ClickAsync();
        await page.GetByLabel("Target URL").FillAsync("https://example.org/spring");
        await page.GetByLabel("Custom short code (optional)").FillAsync("dash-e2e");
        await page.GetByLabel("Title (optional)").FillAsync(HostileTitle);
        await page.GetByLabel("Tags (optional)").FillAsync("poster, spring");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create" }).ClickAsync();
        try
        {
            // The app routes by hash (a same-document navigation): wait for its page of the new code, not for a load.
            await page.WaitForFunctionAsync("() => location.hash === '#/codes/dash-e2e' && document.getElementById('code-title') !== null");
        }
        catch (TimeoutException)
        {
            Assert.Fail($"no navigation to the new code: at {page.Url}; the page says: {await page.Locator("main").InnerTextAsync()}\n" +
                $"console: {string.Join(" | ", console)}\ndialogs: {string.Join(" | ", dialogs)}\nerrors: {string.Join(" | ", errors)}\n" +
                $"host log (last 60 lines):\n{string.Join('\n', _deployment.Logs.Split('\n').TakeLast(60))}");
        }
        Assert.Equal(HostileTitle, await page.Locator("#code-title").TextContentAsync());
        Assert.Equal(0, await page.Locator("img[src='x']").CountAsync());
        await page.WaitForFunctionAsync("() => document.querySelector('main').dataset.scans === '0'");

        // A marker that a page reload would erase.
        await page.EvaluateAsync("() => { window.__sameDocument = 42; }");

        // Scans from phones and desktops in several countries, through the trusted loopback proxy.
        var scans = new (string Ip, string Agent)[]
        {
            ("81.2.69.142", AnalyticsTests.IPhone), ("81.2.69.142", AnalyticsTests.IPhone), ("81.2.69.142", AndroidPhone),
            ("89.160.20.112", AnalyticsTests.Desktop), ("89.160.20.112", AnalyticsTests.Desktop),
            ("8.8.8.8", AnalyticsTests.Desktop), ("8.8.8.8", AnalyticsTests.IPhone),
        };
        foreach (var (ip, agent) in scans)
        {
            using var scan = await _deployment.Http.ScanFromAsync("dash-e2e", ip, agent);
            Assert.Equal(HttpStatusCode.Found, scan.StatusCode);
        }

        // The page catches up without a reload (Refresh button; the 10 s timer does the same): once the rollups hold
        // the scans, one click shows them, or the timer does within its period should the click race a refresh.
        await _deployment.FlushAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Refresh", Exact = true }).ClickAsync();
        await page.WaitForFunctionAsync("() => document.querySelector('main').dataset.scans === '7'", null, new() { Timeout = 30_000 });
        Assert.Equal("7", await page.EvaluateAsync<string>("() => document.querySelector('main').dataset.scans"));
        Assert.Equal(42, await page.EvaluateAsync<int>("() => window.__sameDocument"));
        var stats = await _deployment.Http.GetFromJsonAsync<JsonElement>("/api/codes/dash-e2e/stats");
        Assert.Equal(7, stats.GetProperty("totals").GetProperty("scans").GetInt64());

        // Totals as shown.
        var totals = await page.Locator("#totals dl div").AllInnerTextsAsync();
        Assert.Contains(totals, t => t.StartsWith("Scans") && t.EndsWith("7"));
        Assert.Contains(totals, t => t.StartsWith("Humans") && t.EndsWith("7"));

        // The charts' data, read from the ECharts instances.
        var series = await ChartOptionAsync(page, "series");
        Assert.Equal(7, series.GetProperty("series")[0].GetProperty("data").EnumerateArray().Sum(v => v.GetInt64()));

        var map = await ChartOptionAsync(page, "map");
        // (ECharts may list the map's other regions too, without a value.)
        var shaded = map.GetProperty("series")[0].GetProperty("data").EnumerateArray()
            .Where(d => d.TryGetProperty("value", out var v) && v.ValueKind == JsonValueKind.Number)
            .ToDictionary(d => d.GetProperty("name").GetString()!, d => d.GetProperty("value").GetInt64());
        var expected = stats.GetProperty("countries").EnumerateArray()
            .Where(c => c.GetProperty("country").GetString() != "unknown")
            .ToDictionary(c => c.GetProperty("country").GetString()!, c => c.GetProperty("scans").GetInt64());
        Assert.Equal(3, shaded["GB"]);
        Assert.True(shaded.Count >= 2, string.Join(", ", shaded));
        Assert.Equal(expected.OrderBy(e => e.Key), shaded.OrderBy(e => e.Key));
        // Every shaded country exists in the registered map (ISO alpha-2 names), and cities are points.
        var missing = await page.EvaluateAsync<string[]>(
            "codes => codes.filter(c => !echarts.getMap('world').geoJSON.features.some(f => f.properties.name === c))", shaded.Keys.ToArray());
        Assert.Empty(missing);
        var cities = map.GetProperty("series")[1].GetProperty("data");
        Assert.Contains(cities.EnumerateArray(), c => c.GetProperty("name").GetString()!.StartsWith("East Finchley"));

        var devices = (await ChartOptionAsync(page, "devices")).GetProperty("series")[0].GetProperty("data").EnumerateArray()
            .ToDictionary(d => d.GetProperty("name").GetString()!, d => d.GetProperty("value").GetInt64());
        Assert.Equal(4, devices["mobile"]);
        Assert.Equal(3, devices["desktop"]);
        var heat = (await ChartOptionAsync(page, "peak")).GetProperty("series")[0].GetProperty("data").EnumerateArray().Sum(d => d[2].GetInt64());
        Assert.Equal(7, heat);
        Assert.Contains("7 scans", await page.Locator("[data-summary=series]").TextContentAsync());

        // Auto-refresh: the "Updated" time changes within one period, with no click.
        var updated = await page.Locator("#updated").TextContentAsync();
        await page.WaitForFunctionAsync("t => document.getElementById('updated').textContent !== t", updated, new() { Timeout = 15_000 });
        await page.ScreenshotAsync(new() { Path = Path.Combine(ScreenshotDir, "code-desktop.png"), FullPage = true });

        // CSV of the chosen period in the chosen zone: the link follows the fields; the file has the 7 scans, times in that zone.
        Assert.Equal("admin (admin)", await page.Locator("#owner-name").TextContentAsync());
        // Kolkata is ahead of the browser's UTC: its "today" may be tomorrow, so the period ends a day later.
        await page.GetByLabel("Time zone").FillAsync("Asia/Kolkata");
        await page.GetByLabel("To (included)").FillAsync(DateTime.UtcNow.AddDays(1).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Link, new() { Name = "Download CSV" }).ClickAsync());
        var csvPath = await download.PathAsync();
        var csvLines = (await File.ReadAllTextAsync(csvPath)).TrimEnd('\n').Split('\n');
        Assert.StartsWith("scanned_at,", csvLines[0]);
        Assert.Equal(8, csvLines.Length);
        Assert.All(csvLines.Skip(1), l => Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+05:30,", l));
        Assert.Contains("tz=Asia%2FKolkata", download.Url);
        Assert.EndsWith(".csv", download.SuggestedFilename);

        // An API key made on the keys page: shown once, and it works.
        await page.GetByRole(AriaRole.Link, new() { Name = "API keys" }).ClickAsync();
        await page.GetByLabel("Name (what will use it)").FillAsync("ci-e2e");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();
        var newKey = await page.Locator("#new-key").InputValueAsync(new() { Timeout = 15_000 });
        await Assertions.Expect(page.Locator("#key-list tbody tr", new() { HasText = "ci-e2e" })).ToHaveCountAsync(1);
        using (var withNewKey = _deployment.CreateClient(newKey))
        {
            var keys = await withNewKey.GetFromJsonAsync<JsonElement>("/api/keys");
            Assert.Contains(keys.EnumerateArray(), k => k.GetProperty("name").GetString() == "ci-e2e" && k.GetProperty("revokedAt").ValueKind == JsonValueKind.Null);
        }

        await page.ReloadAsync();
        await Assertions.Expect(page.Locator("#key-list tbody tr", new() { HasText = "ci-e2e" })).ToHaveCountAsync(1);
        Assert.Equal(0, await page.Locator("#new-key").CountAsync()); // the secret is gone after a reload
        Assert.DoesNotContain(newKey, await page.ContentAsync());

        // The list shows the code with its total, and the title as text.
        await page.GotoAsync("/#/");
        var card = page.Locator("li[data-code='dash-e2e']");
        await Assertions.Expect(card.Locator(".total")).ToHaveTextAsync("7");
        Assert.Equal(HostileTitle, await card.Locator(".code-title").TextContentAsync());
        Assert.False(await page.GetByRole(AriaRole.Button, new() { Name = "Load more" }).IsVisibleAsync()); // one page only
        await page.ScreenshotAsync(new() { Path = Path.Combine(ScreenshotDir, "list-desktop.png"), FullPage = true });

        // A 375 px phone: no horizontal scrolling of the page.
        await page.SetViewportSizeAsync(375, 812);
        Assert.True(await NoHorizontalOverflowAsync(page), "list page overflows at 375 px");
        await page.ScreenshotAsync(new() { Path = Path.Combine(ScreenshotDir, "list-phone.png"), FullPage = true });
        await page.GotoAsync("/#/codes/dash-e2e");
        await page.WaitForFunctionAsync("() => document.querySelector('main').dataset.scans === '7'");
        Assert.True(await NoHorizontalOverflowAsync(page), "code page overflows at 375 px");
        await page.ScreenshotAsync(new() { Path = Path.Combine(ScreenshotDir, "code-phone.png"), FullPage = true });

        // Edit (on the phone): new title, disabled; the short URL then answers 410.
        await page.GetByRole(AriaRole.Link, new() { Name = "Edit", Exact = true }).ClickAsync();
        await page.GetByLabel("Title (optional)").FillAsync("Spring poster");
        await page.GetByLabel("Enabled (redirects scans)").UncheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await Assertions.Expect(page.Locator("#code-title")).ToHaveTextAsync("Spring poster");
        await Assertions.Expect(page.Locator(".code-head .badge")).ToHaveTextAsync("disabled");
        using (var gone = await _deployment.Http.ScanFromAsync("dash-e2e", "81.2.69.142", AnalyticsTests.IPhone))
        {
            Assert.Equal(HttpStatusCode.Gone, gone.StatusCode);
        }

        // Delete, after confirming in the dialog.
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete", Exact = true }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Delete", Exact = true }).ClickAsync();
        await page.GetByRole(AriaRole.Heading, new() { Name = "Your codes" }).WaitForAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await _deployment.Http.GetAsync("/api/codes/dash-e2e")).StatusCode);

        // Nothing broke the rules on the way.
        Assert.Empty(await HeadlessChromium.CspViolationsAsync(page));
        Assert.DoesNotContain(console, m => m.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase));
        Assert.Empty(errors);
        Assert.Empty(dialogs);

        // Signing out clears the cookie and shows the sign-in form.
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await page.GetByLabel("API key").WaitForAsync();
        Assert.DoesNotContain(await context.CookiesAsync(), c => c.Name == "invexqr_session");
        output.WriteLine(string.Join('\n', console));
        await context.CloseAsync();
    }

    private static async Task<JsonElement> ChartOptionAsync(IPage page, string chart) =>
        JsonDocument.Parse(await page.EvaluateAsync<string>(
            "key => JSON.stringify(echarts.getInstanceByDom(document.querySelector(`[data-chart=${key}]`)).getOption())", chart)).RootElement.Clone();

    /// <summary>
    /// True once the page fits its width, within 5 s of a resize: charts follow the window in their resize handlers,
    /// which a loaded machine may run a moment after the viewport changed.
    /// </summary>
    private static async Task<bool> NoHorizontalOverflowAsync(IPage page)
    {
        const string fits = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth";
        try
        {
            await page.WaitForFunctionAsync(fits, null, new() { Timeout = 5_000, PollingInterval = 100 });
            return true;
        }
        catch (TimeoutException) // still overflowing after 5 s
        {
            return await page.EvaluateAsync<bool>(fits);
        }
    }
}
