namespace InvexQr.IntegrationTests.Infrastructure;

/// <summary>Reading samples out of a <c>/metrics</c> page (Prometheus text exposition).</summary>
public static class Prometheus
{
    /// <summary>Sum of the samples of a metric whose labels contain <paramref name="label"/>; 0 when there is none.</summary>
    public static double Sample(string exposition, string metric, string label = "")
    {
        var total = 0.0;
        foreach (var line in exposition.Split('\n'))
        {
            if (line.StartsWith(metric, StringComparison.Ordinal) && (line.Length > metric.Length && (line[metric.Length] is '{' or ' '))
                && line.Contains(label, StringComparison.Ordinal))
            {
                total += double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return total;
    }

    /// <summary>The <c>/metrics</c> page of a process.</summary>
    public static async Task<string> ScrapeAsync(Infrastructure.ServiceProcess process)
    {
        using var plain = new HttpClient();
        return await plain.GetStringAsync(new Uri(process.BaseAddress, "/metrics"));
    }
}
