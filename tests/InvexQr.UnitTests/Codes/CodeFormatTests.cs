using InvexQr.Abstractions;
using InvexQr.Grains.Codes;

namespace InvexQr.UnitTests.Codes;

public sealed class CodeFormatTests
{
    [Theory]
    [InlineData("abc")]
    [InlineData("Spring-Poster_2026")]
    [InlineData("0123456789012345678901234567890123456789012345678901234567890123")] // 64
    public void Well_formed_codes_are_accepted(string code) => Assert.True(CodeFormat.IsWellFormed(code));

    [Theory]
    [InlineData("")]
    [InlineData("ab")]
    [InlineData("01234567890123456789012345678901234567890123456789012345678901234")] // 65
    [InlineData("with space")]
    [InlineData("dot.ted")]
    [InlineData("slash/ed")]
    [InlineData("quote'd")]
    [InlineData("ünïcode")]
    [InlineData("emoji😀x")]
    public void Malformed_codes_are_rejected(string code) => Assert.False(CodeFormat.IsWellFormed(code));

    [Fact]
    public void Random_codes_are_well_formed_unambiguous_and_distinct()
    {
        var codes = Enumerable.Range(0, 10_000).Select(_ => CodeGenerator.NewCode(7)).ToList();

        Assert.All(codes, c => Assert.True(CodeFormat.IsWellFormed(c)));
        Assert.All(codes, c => Assert.DoesNotContain(c, ch => "0O1lI".Contains(ch)));
        Assert.Equal(codes.Count, codes.Distinct().Count());
    }
}
