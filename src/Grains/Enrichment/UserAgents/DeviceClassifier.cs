using System.Text.RegularExpressions;

namespace InvexQr.Grains.Enrichment.UserAgents;

/// <summary>
/// Turns a parsed user agent into the dashboard's device type. The rules, in order:
/// <list type="number">
/// <item><b>bot</b>: an empty user agent; uap-core's device family <c>Spider</c>; or a known crawler,
///   link previewer (Slack, WhatsApp, Facebook, X/Twitter, LinkedIn, Telegram, Discord, …),
///   headless browser, monitoring agent or HTTP library (<see cref="BotPattern"/>).</item>
/// <item><b>tablet</b>: iPad, Kindle/Silk, PlayBook, "Tablet" in the UA or device, and Android
///   without "Mobile" (Android phones' browsers send "Mobile"; tablets don't). Tablets are not phones.</item>
/// <item><b>mobile</b>: iOS (iPhone/iPod), Android with "Mobile", Windows Phone, KaiOS, BlackBerry,
///   Firefox OS/"Mobile" in the UA, and in-app browsers on those systems (Instagram, Facebook,
///   WeChat, TikTok, LinkedIn apps send their OS's phone UA plus their own token).</item>
/// <item><b>desktop</b>: Windows, macOS, Linux, Chrome OS and the BSDs, with no device above.</item>
/// <item><b>other</b>: the rest (smart TVs, consoles, unknown strings).</item>
/// </list>
/// The known hard case: iPadOS 13+ Safari sends a Macintosh desktop UA by default ("Request
/// Desktop Website"), indistinguishable from a Mac by the string alone (only client-side touch
/// detection could tell). Those scans are classified <b>desktop</b>.
/// </summary>
public static class DeviceClassifier
{
    public const string Mobile = "mobile", Tablet = "tablet", Desktop = "desktop", Bot = "bot", OtherType = "other";

    private static readonly Regex BotPattern = new(
        @"(?<!cu)bot\b|bot/|crawl|spider|slurp|facebookexternalhit|facebot|meta-externalagent|Slack-ImgProxy|Slackbot|" +
        @"WhatsApp/|TelegramBot|Discordbot|Twitterbot|LinkedInBot|Embedly|Pinterest|redditbot|Applebot|SkypeUriPreview|" +
        @"vkShare|Iframely|Google-PageRenderer|Google-InspectionTool|Mediapartners|AdsBot|HeadlessChrome|PhantomJS|" +
        @"Puppeteer|Playwright|Lighthouse|Chrome-Lighthouse|Selenium|curl/|Wget/|python-requests|python-urllib|" +
        @"aiohttp|httpx|Go-http-client|okhttp|Java/|Apache-HttpClient|libwww-perl|axios/|node-fetch|undici|" +
        @"PostmanRuntime|insomnia|HTTPie|Scrapy|UptimeRobot|Pingdom|Datadog|monitor|BingPreview|preview",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled,
        TimeSpan.FromMilliseconds(50));

    public static bool LooksLikeBot(string? userAgent)
    {
        if (string.IsNullOrWhiteSpace(userAgent))
        {
            return true;
        }

        try
        {
            return BotPattern.IsMatch(userAgent.Length > UserAgentParser.MaxLength ? userAgent[..UserAgentParser.MaxLength] : userAgent);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }

    public static string Classify(string? userAgent, UserAgentDetails details)
    {
        if (details.DeviceFamily == "Spider" || LooksLikeBot(userAgent))
        {
            return Bot;
        }

        var ua = userAgent!;
        var device = $"{details.DeviceFamily} {details.DeviceModel}";
        var os = details.OsFamily;

        if (device.Contains("iPad", StringComparison.Ordinal) || ua.Contains("iPad", StringComparison.Ordinal)
            || device.Contains("Kindle", StringComparison.OrdinalIgnoreCase) || ua.Contains("Silk/", StringComparison.Ordinal)
            || ua.Contains("PlayBook", StringComparison.Ordinal)
            || ua.Contains("Tablet", StringComparison.OrdinalIgnoreCase) || device.Contains("Tablet", StringComparison.OrdinalIgnoreCase)
            || (os == "Android" && !ua.Contains("Mobile", StringComparison.Ordinal) && !IsTelevision(ua)))
        {
            return Tablet;
        }

        if (os is "iOS" or "Android" or "Windows Phone" or "KaiOS" or "BlackBerry OS" or "Firefox OS" or "Symbian OS" or "HarmonyOS"
            || device.Contains("iPhone", StringComparison.Ordinal) || device.Contains("iPod", StringComparison.Ordinal)
            || (ua.Contains("Mobile", StringComparison.Ordinal) && !IsTelevision(ua)))
        {
            return Mobile;
        }

        if (IsTelevision(ua))
        {
            return OtherType;
        }

        if (os.StartsWith("Windows", StringComparison.Ordinal) || os is "Mac OS X" or "macOS" or "Linux" or "Ubuntu" or "Fedora"
            or "Chrome OS" or "ChromeOS" or "FreeBSD" or "OpenBSD" or "NetBSD" or "Debian" or "Arch Linux")
        {
            return Desktop;
        }

        return OtherType;
    }

    private static bool IsTelevision(string ua) =>
        ua.Contains("SmartTV", StringComparison.OrdinalIgnoreCase) || ua.Contains("SMART-TV", StringComparison.OrdinalIgnoreCase)
        || ua.Contains("Tizen", StringComparison.Ordinal) && ua.Contains("TV", StringComparison.Ordinal)
        || ua.Contains("AFT", StringComparison.Ordinal) && ua.Contains("Fire", StringComparison.Ordinal) && ua.Contains("TV", StringComparison.Ordinal)
        || ua.Contains("GoogleTV", StringComparison.Ordinal) || ua.Contains("Android TV", StringComparison.Ordinal)
        || ua.Contains("PlayStation", StringComparison.Ordinal) || ua.Contains("Xbox", StringComparison.Ordinal)
        || ua.Contains("Nintendo", StringComparison.Ordinal) || ua.Contains("CrKey", StringComparison.Ordinal);
}
