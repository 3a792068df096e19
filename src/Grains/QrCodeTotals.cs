namespace InvexQr.Grains;

/// <summary>A code's lifetime totals, kept in Orleans grain storage (ADO.NET on PostgreSQL).</summary>
[GenerateSerializer]
public sealed class QrCodeTotals
{
    [Id(0)] public long TotalScans { get; set; }

    [Id(1)] public DateTimeOffset? LastScanAt { get; set; }
}
