using InvexQr.Abstractions;
using System.Security.Cryptography;
using InvexQr.Grains.Analytics;

namespace InvexQr.UnitTests.Analytics;

public sealed class HyperLogLogTests
{
    [Theory]
    [InlineData(10)]
    [InlineData(1_000)]
    [InlineData(100_000)]
    public void Estimates_distinct_hashes_within_a_few_percent(int distinct)
    {
        var sketch = new HyperLogLog();
        foreach (var hash in Hashes(distinct, seed: distinct))
        {
            sketch.Add(hash);
            sketch.Add(hash); // duplicates change nothing
        }

        var error = Math.Abs(sketch.Estimate() - distinct) / (double)distinct;
        Assert.True(error < 0.06, $"estimate {sketch.Estimate()} for {distinct} ({error:P1})");
    }

    [Fact]
    public void Merged_days_estimate_the_union_and_survive_a_round_trip_through_bytes()
    {
        var monday = new HyperLogLog();
        var tuesday = new HyperLogLog();
        var hashes = Hashes(20_000, seed: 7).ToArray();
        foreach (var hash in hashes[..12_000])
        {
            monday.Add(hash);
        }

        foreach (var hash in hashes[8_000..])
        {
            tuesday.Add(hash);
        }

        var union = HyperLogLog.FromBytes(monday.ToBytes())!;
        union.Merge(tuesday);
        Assert.InRange(union.Estimate(), 19_000, 21_000);
        Assert.Null(HyperLogLog.FromBytes(new byte[10]));
    }

    private static IEnumerable<ulong> Hashes(int count, int seed)
    {
        var key = BitConverter.GetBytes(seed);
        for (var i = 0; i < count; i++)
        {
            yield return BitConverter.ToUInt64(HMACSHA256.HashData(key, BitConverter.GetBytes(i)));
        }
    }
}
