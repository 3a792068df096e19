using InvexQr.Gateway.Analytics;

namespace InvexQr.UnitTests.Analytics;

public sealed class CsvCellTests
{
    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("say \"hi\"", "\"say \"\"hi\"\"\"")]
    [InlineData("line\nbreak", "\"line\nbreak\"")]
    [InlineData("=cmd()", "'=cmd()")]
    [InlineData("+1", "'+1")]
    [InlineData("-1", "'-1")]
    [InlineData("@SUM(A1)", "'@SUM(A1)")]
    [InlineData(";=1+1", "\"';=1+1\"")]
    [InlineData("Mozilla;=1+1", "\"Mozilla;=1+1\"")]
    [InlineData("\t=1+1", "\"'\t=1+1\"")]
    [InlineData("\r=1+1", "\"'\r=1+1\"")]
    [InlineData("=HYPERLINK(\"x\",\"y\")", "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"")]
    public void Cells_are_quoted_and_formulas_neutralised(string value, string expected) =>
        Assert.Equal(expected, ScanCsvExport.Cell(value));

    [Theory]
    [InlineData("2026-10-25T00:30:00Z", "UTC", "2026-10-25T00:30:00.000Z")]
    [InlineData("2026-10-25T00:30:00Z", "Europe/Paris", "2026-10-25T02:30:00.000+02:00")]
    [InlineData("2026-10-25T01:30:00Z", "Europe/Paris", "2026-10-25T02:30:00.000+01:00")] // the repeated hour
    [InlineData("2026-07-01T12:00:00.123Z", "America/New_York", "2026-07-01T08:00:00.123-04:00")]
    public void Scan_times_are_written_in_the_zone_with_their_offset(string utc, string zone, string expected) =>
        Assert.Equal(expected, ScanCsvExport.ScannedAt(
            DateTimeOffset.Parse(utc, System.Globalization.CultureInfo.InvariantCulture),
            zone == "UTC" ? TimeZoneInfo.Utc : TimeZoneInfo.FindSystemTimeZoneById(zone)));
}
