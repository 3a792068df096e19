using System.Reflection;

namespace InvexQr.IntegrationTests.Infrastructure;

/// <summary>Paths in the repository, found from the test assembly's location.</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();

    /// <summary>Release or Debug — whatever this test assembly was built as, so the processes match it.</summary>
    public static string Configuration { get; } =
        Assembly.GetExecutingAssembly().Location.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}")
            ? "Release" : "Debug";

    public static string ScriptPath(string name) => Path.Combine(Root, "scripts", name);

    /// <summary>The built entry assembly of one of our processes (built with the solution before tests run).</summary>
    public static string ProcessDll(string project) =>
        Path.Combine(Root, "src", project, "bin", Configuration, "net10.0", $"InvexQr.{project}.dll");

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "InvexQr.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("InvexQr.sln not found above " + AppContext.BaseDirectory);
    }
}
