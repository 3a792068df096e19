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
}
