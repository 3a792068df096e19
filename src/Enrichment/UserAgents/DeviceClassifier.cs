using System.Text.RegularExpressions;

namespace InvexQr.Enrichment.UserAgents;

/// <summary>
/// Derives the dashboard's device type (<c>mobile</c>, <c>tablet</c>, <c>desktop</c>, <c>bot</c>, <c>other</c>) from a
/// user agent and uap-core's answer for it: uap-core says which device and OS, not which kind of device, so these
/// rules are ours. The first rule that applies wins; the rules and their known limits are in <c>docs/device-types.md</c>.
/// </summary>
public static class DeviceClassifier
{
    // Generous: the patterns are linear on strings of at most 512 characters, so only a pathological input comes near
    // it, while a GC pause or a busy core can hold an innocent match for tens of milliseconds.
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(250);

    /// <summary>Automated agents beyond uap-core's <c>Spider</c> rules (case-insensitive, unanchored).</summary>
    private static readonly Regex BotPattern = new(
        // Crawlers by name: "Googlebot/", "bingbot/", "Twitterbot/", "TelegramBot (", "Slackbot-", "Discordbot/",
        // "GPTBot", "AdsBot-Google", "UptimeRobot/", "; bot;" … but not the phone brand "Cubot".
        @"(?<!cu)bot\b|crawl|spider|slurp|archiver|" +
        // Link previewers and fetchers that do not call themselves bots.
        @"facebookexternalhit|facebookcatalog|meta-external|Facebot|WhatsApp/|Slack-ImgProxy|SkypeUriPreview|" +
        @"BingPreview|MicrosoftPreview|Google Web Preview|Google-PageRenderer|Google-InspectionTool|GoogleOther|" +
        @"Google-Read-Aloud|Google-Safety|Mediapartners-Google|FeedFetcher-Google|APIs-Google|Google-Extended|" +
        @"ChatGPT-User|Claude-User|Claude-Web|anthropic-ai|Perplexity-User|Embedly|Iframely|vkShare|W3C_Validator|" +
        @"Snap URL Preview|Yahoo Link Preview|Bitly|" +
        // Headless browsers, performance and uptime monitors.
        @"Headless|PhantomJS|Puppeteer|Playwright|Lighthouse|Selenium|Pingdom|Datadog|StatusCake|Site24x7|NewRelicPinger|" +
        // HTTP tools and libraries.
        @"^curl/|^Wget|python-requests|python-urllib|^Python/|aiohttp|python-httpx|^Go-http-client|^okhttp|^Java/|" +
        @"Apache-HttpClient|libwww-perl|^axios/|node-fetch|^undici|PostmanRuntime|insomnia|^HTTPie|Scrapy|" +
        @"GuzzleHttp|^Faraday|^Ruby|^Dart/|^Deno/|^Bun/|HttpClient|WebClient|-http\b|^got\b|-sdk-|ReactorNetty|^WinHttp|" +
        @"^Microsoft-WebDAV|^libcurl|Windows-Update-Agent|Debian APT|HttpUrlConnection|^Jersey/|resty|^WordPress/|" +
        // Feed readers ("… 1000 subscribers") and mail image proxies.
        @"\bsubscribers\b|GoogleImageProxy|YahooMailProxy",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled,
        MatchTimeout);

    /// <summary>Televisions, consoles, streaming sticks and VR headsets.</summary>
    private static readonly Regex NotAHandheldPattern = new(
        @"Smart-?TV|SMART-TV|HbbTV|GoogleTV|Google TV|Android ?TV|AppleTV|Apple TV|\bTizen\b.*\bTV\b|Web0S|webOS.TV|NetCast|" +
        @"BRAVIA|\bAFT[A-Z]|\bCrKey\b|\bRoku\b|PlayStation|\bXbox\b|Nintendo|OculusBrowser|\bQuest\b|\bPico\b|\bDTV\b",
        RegexOptions.CultureInvariant | RegexOptions.Compiled,
        MatchTimeout);

    /// <summary>Phones by their tokens: "Mobi" (browsers' own marker), Opera Mini, feature-phone platforms and browsers.</summary>
    private static readonly Regex HandheldPattern = new(
        @"Mobi|Opera Mini|iPhone|iPod|\bMIDP\b|\bCLDC\b|UP\.Browser|UP\.Link|Obigo|NetFront|J2ME|Series ?60|Series40|SymbianOS|" +
        @"BlackBerry|\bBB10\b|Nokia|SonyEricsson|UCWEB|Windows CE|IEMobile|Palm(?:OS|Source)",
        RegexOptions.CultureInvariant | RegexOptions.Compiled,
        MatchTimeout);

    /// <summary>Whether a user agent is a known automated agent by its string alone (no uap-core rules needed).</summary>
    public static bool LooksLikeBot(string? userAgent) =>
        string.IsNullOrWhiteSpace(userAgent) || SafeIsMatch(BotPattern, UserAgentParser.Truncate(userAgent));

    /// <summary>The device type of <paramref name="userAgent"/> (already cut to <see cref="UserAgentParser.MaxLength"/>) given uap-core's answer for it.</summary>
    public static string Classify(string userAgent, OsInfo os, DeviceInfo device)
    {
        if (string.IsNullOrWhiteSpace(userAgent))
        {
            return DeviceTypes.Bot;
        }

        var ua = userAgent;
        if (device.Family == "Spider" || SafeIsMatch(BotPattern, ua))
        {
            return DeviceTypes.Bot;
        }

        if (SafeIsMatch(NotAHandheldPattern, ua))
        {
            return DeviceTypes.Other;
        }

        var family = device.Family;
        var model = device.Model ?? string.Empty;

        if (family.Contains("iPad", StringComparison.Ordinal) || model.Contains("iPad", StringComparison.Ordinal)
            || ua.Contains("iPad", StringComparison.Ordinal)
            || family.Contains("Kindle", StringComparison.Ordinal) || ua.Contains("Kindle", StringComparison.Ordinal)
            || ua.Contains("Silk/", StringComparison.Ordinal) || ua.Contains("PlayBook", StringComparison.Ordinal)
            || (ua.Contains("Tablet", StringComparison.OrdinalIgnoreCase) && !ua.Contains("Tablet PC", StringComparison.Ordinal))
            || family.EndsWith("Tablet", StringComparison.OrdinalIgnoreCase))
        {
            return DeviceTypes.Tablet;
        }

        if (family.Contains("iPhone", StringComparison.Ordinal) || family.Contains("iPod", StringComparison.Ordinal)
            || family is "Generic Feature Phone" or "Generic Smartphone"
            || os.Family is "iOS" or "Windows Phone" or "Windows Mobile" or "BlackBerry OS" or "KaiOS" or "Firefox OS" or "Symbian OS"
                or "Symbian^3" or "Bada" or "Tizen" or "Sailfish" or "Ubuntu Touch" or "Nokia Series 40" or "MeeGo" or "Maemo"
            || SafeIsMatch(HandheldPattern, ua))
        {
            return DeviceTypes.Mobile;
        }

        if (os.Family == "Android" || ua.Contains("Android", StringComparison.Ordinal))
        {
            // Android browsers and web views (a "Mozilla/…" string) without "Mobile": a tablet, since
            // phones' all send "Mobile". Apps' own HTTP clients (Dalvik, SDKs) do not follow that
            // convention; phones being most Android devices, those count as mobile.
            return ua.StartsWith("Mozilla/", StringComparison.Ordinal) || ua.StartsWith("Opera/", StringComparison.Ordinal)
                ? DeviceTypes.Tablet
                : DeviceTypes.Mobile;
        }

        if (os.Family.StartsWith("Windows", StringComparison.Ordinal) || family == "Mac"
            || os.Family is "Mac OS X" or "macOS" or "Mac OS" or "Linux" or "Ubuntu" or "Debian" or "Fedora" or "Red Hat" or "SUSE"
                or "Mint" or "Arch Linux" or "Gentoo" or "Slackware" or "CentOS" or "Mandriva" or "Kubuntu" or "Chrome OS" or "ChromeOS"
                or "FreeBSD" or "OpenBSD" or "NetBSD" or "Solaris" or "Haiku")
        {
            return DeviceTypes.Desktop;
        }

        // A handset uap-core recognised by make and model, with no OS it knows (older feature phones).
        if (device.Brand is not null && family != UserAgentInfo.OtherFamily)
        {
            return DeviceTypes.Mobile;
        }

        return DeviceTypes.Other;
    }

    /// <summary>A match that timed out is tried once more (the timeout is wall-clock time); twice is taken as no match.</summary>
    private static bool SafeIsMatch(Regex regex, string input)
    {
        for (var attempt = 0; attempt < 2; attempt++)
        {
            try
            {
                return regex.IsMatch(input);
            }
            catch (RegexMatchTimeoutException)
            {
            }
        }

        return false;
    }
}
