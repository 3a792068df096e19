using Microsoft.Playwright;

namespace InvexQr.IntegrationTests.Infrastructure;

/// <summary>
/// The system Chromium (Debian package chromium, installed by test.sh) driven by Microsoft.Playwright, whose node
/// driver ships inside the NuGet package: no browser is downloaded.
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    public const string Executable = "/usr/bin/chromium";

    /// <summary>
    /// Collects a page's Content-Security-Policy violations: an init script is not subject to the page's CSP, and
    /// the browser reports each violation to it as an event.
    /// </summary>
    public const string CspViolationRecorder =
        "window.__csp = []; document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')));";

    private HeadlessChromium(IPlaywright playwright, IBrowser browser)
    {
        Playwright = playwright;
        Browser = browser;
    }

    public IPlaywright Playwright { get; }

    public IBrowser Browser { get; }

    public static async Task<HeadlessChromium> LaunchAsync()
    {
        Assert.True(File.Exists(Executable), $"{Executable} is missing: apt-get install chromium (test.sh does)");
        var playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = Executable,
            Headless = true,
            Args = ["--no-sandbox", "--disable-dev-shm-usage"],
        });
        return new HeadlessChromium(playwright, browser);
    }

    /// <summary>
    /// A browser context that records CSP violations (<see cref="CspViolationRecorder"/>) and waits up to 60 s for an
    /// element, a navigation or a condition: Playwright's default 30 s is tight while the whole suite loads both cores
    /// (a test's own time limits, such as the live view's 2 s, are passed explicitly and stay).
    /// </summary>
    public async Task<IBrowserContext> NewContextAsync(BrowserNewContextOptions options)
    {
        var context = await Browser.NewContextAsync(options);
        context.SetDefaultTimeout(60_000);
        context.SetDefaultNavigationTimeout(60_000);
        await context.AddInitScriptAsync(CspViolationRecorder);
        return context;
    }

    /// <summary>The CSP violations the page has reported so far (see <see cref="CspViolationRecorder"/>).</summary>
    public static Task<string[]> CspViolationsAsync(IPage page) => page.EvaluateAsync<string[]>("() => window.__csp");

    public async ValueTask DisposeAsync()
    {
        await Browser.DisposeAsync();
        Playwright.Dispose();
    }
}
