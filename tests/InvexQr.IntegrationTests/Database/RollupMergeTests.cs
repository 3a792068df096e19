using System.Diagnostics.Metrics;
using InvexQr.Abstractions;
using InvexQr.Data;
using InvexQr.Grains.Analytics;
using InvexQr.Grains.Codes;
using InvexQr.IntegrationTests.Infrastructure;
using InvexQr.Silo.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace InvexQr.IntegrationTests.Database;

/// <summary>
/// Two activations of one code (a grain moving between silos, or alive on two silos for a moment after one was
/// declared dead) write the same rows through their silos' real rollup sinks at the same time: the stored rollups
/// must be the merge of both (counters summed, visitor registers raised to the larger rank), and a batch written
/// again after its answer was lost must be added once.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class RollupMergeTests(PostgresServer postgres)
{
    private static readonly GeoLocation Paris = new("FR", "France", "IDF", "Paris", 48.85, 2.35);
    private static readonly ClientInfo Phone = new("Mobile Safari", "iOS", "mobile", false);

    [Fact]
    public async Task Two_activations_of_one_code_writing_at_once_store_the_union_of_their_visitors_and_the_sum_of_their_scans()
    {
        await using var dataSource = await postgres.CreateMigratedDataSourceAsync("merge");
        var code = await CreateCodeAsync(dataSource, "two-homes");
        var (siloA, siloB) = (NewSink(new RollupRepository(dataSource)), NewSink(new RollupRepository(dataSource)));
        var at = DateTimeOffset.UtcNow;
        var day = DateOnly.FromDateTime(at.UtcDateTime);

        // A sees visitors [0, 6000), B sees [4000, 10000): 2,000 in both, 10,000 in the union. B sees each of its
        // visitors twice. Each round both count a slice and then flush together, so their transactions upsert the
        // same hourly, dimension and register rows at the same moment, ten times over.
        const int rounds = 10, visitorsA = 6000, firstOfB = 4000, union = 10_000;
        var (expectA, expectB, expectUnion) = (new HyperLogLog(), new HyperLogLog(), new HyperLogLog());
        long scans = 0;
        for (var round = 0; round < rounds; round++)
        {
            for (var v = round * visitorsA / rounds; v < (round + 1) * visitorsA / rounds; v++)
            {
                siloA.Count(code, new ScanFacts(at, false, false, Paris, Phone, VisitorHash(v)));
                expectA.Add(VisitorHash(v));
                scans++;
            }

            for (var v = firstOfB + round * (union - firstOfB) / rounds; v < firstOfB + (round + 1) * (union - firstOfB) / rounds; v++)
            {
                siloB.Count(code, new ScanFacts(at, false, false, Paris, Phone, VisitorHash(v)));
                siloB.Count(code, new ScanFacts(at, false, true, Paris, Phone, VisitorHash(v)));
                expectB.Add(VisitorHash(v));
                scans += 2;
            }

            var written = await Task.WhenAll(siloA.FlushAsync(CancellationToken.None), siloB.FlushAsync(CancellationToken.None));
            Assert.All(written, Assert.True);
        }

        for (var v = 0; v < union; v++)
        {
            expectUnion.Add(VisitorHash(v));
        }

        Assert.Equal(2 * rounds, siloA.Batches + siloB.Batches);
        Assert.Equal(0, siloA.Failures + siloB.Failures);

        // Register by register, exactly the sketch of the union: neither writer replaced the other's ranks.
        var stored = await RegistersAsync(dataSource, code, day);
        Assert.Equal(expectUnion.NonZeroRegisters().ToDictionary(r => r.Register, r => r.Rank), stored);
        var lowered = expectA.NonZeroRegisters().Count(r => stored.GetValueOrDefault(r.Register) < r.Rank)
                      + expectB.NonZeroRegisters().Count(r => stored.GetValueOrDefault(r.Register) < r.Rank);
        Assert.Equal(0, lowered);

        // What the stats API reads: the union's estimate, not one writer's.
        var stats = await new StatsQueries(dataSource).QueryAsync(
            [code], new StatsPeriod(at.AddHours(-1), at.AddHours(1), "hour", TimeZoneInfo.Utc), CancellationToken.None);
        var uniques = stats.Uniques.Estimate();
        Assert.Equal(expectUnion.Estimate(), uniques);
        Assert.InRange(uniques, union * 0.95, union * 1.05);
        Assert.True(Math.Max(expectA.Estimate(), expectB.Estimate()) < union * 0.7,
            $"one writer alone estimates {expectA.Estimate()} / {expectB.Estimate()}: the union must count more than either");

        // Counters are added, every scan once.
        Assert.Equal(scans, await ScalarAsync(dataSource, $"SELECT sum(scans) FROM qr_rollup_hourly WHERE qr_code_id = {code}"));
        Assert.Equal(scans, await ScalarAsync(dataSource, $"SELECT sum(humans) FROM qr_rollup_hourly WHERE qr_code_id = {code}"));
        Assert.Equal(union - firstOfB, await ScalarAsync(dataSource, $"SELECT sum(repeats) FROM qr_rollup_hourly WHERE qr_code_id = {code}"));
        Assert.Equal(scans, await ScalarAsync(dataSource,
            $"SELECT sum(scans) FROM qr_rollup_dims_hourly WHERE qr_code_id = {code} AND dim = 'os' AND value = 'iOS'"));
        Assert.Equal(scans, await ScalarAsync(dataSource,
            $"SELECT sum(scans) FROM qr_rollup_dims_daily WHERE qr_code_id = {code} AND dim = 'city' AND value = 'FR|Paris'"));
        Assert.Equal(2L * rounds, await ScalarAsync(dataSource, "SELECT count(*) FROM rollup_flushes"));
    }

    [Fact]
    public async Task A_batch_committed_but_unanswered_is_written_again_by_its_sink_and_added_once()
    {
        await using var dataSource = await postgres.CreateMigratedDataSourceAsync("merge");
        var code = await CreateCodeAsync(dataSource, "lost-answer");
        var store = new AnswerLosingStore(new RollupRepository(dataSource));
        var sink = NewSink(store);
        var other = NewSink(new RollupRepository(dataSource));
        var at = DateTimeOffset.UtcNow;

        for (var v = 0; v < 300; v++)
        {
            sink.Count(code, new ScanFacts(at, false, false, Paris, Phone, VisitorHash(v)));
        }

        store.LoseNextAnswer = true; // PostgreSQL commits, the connection breaks before the answer arrives
        Assert.False(await sink.FlushAsync(CancellationToken.None));
        Assert.Equal(300L, await ScalarAsync(dataSource, $"SELECT sum(scans) FROM qr_rollup_hourly WHERE qr_code_id = {code}"));

        // Meanwhile another silo writes the same code; then the sink retries its batch (same id) with new scans after it.
        other.Count(code, new ScanFacts(at, true, false, Paris, Phone, null));
        sink.Count(code, new ScanFacts(at, false, false, Paris, Phone, VisitorHash(300)));
        var retried = await Task.WhenAll(sink.FlushAsync(CancellationToken.None), other.FlushAsync(CancellationToken.None));
        Assert.All(retried, Assert.True);

        Assert.Equal(new[] { false, true }, store.Answers.Skip(1)); // the retry found its id and was skipped; the new batch was written
        Assert.Equal(302L, await ScalarAsync(dataSource, $"SELECT sum(scans) FROM qr_rollup_hourly WHERE qr_code_id = {code}"));
        Assert.Equal(1L, await ScalarAsync(dataSource, $"SELECT sum(bots) FROM qr_rollup_hourly WHERE qr_code_id = {code}"));
        Assert.Equal(302L, await ScalarAsync(dataSource,
            $"SELECT sum(scans) FROM qr_rollup_dims_daily WHERE qr_code_id = {code} AND dim = 'device' AND value = 'mobile'"));
    }

    [Fact]
    public async Task The_same_batch_written_by_two_connections_at_once_is_added_by_exactly_one()
    {
        await using var dataSource = await postgres.CreateMigratedDataSourceAsync("merge");
        var code = await CreateCodeAsync(dataSource, "twice-at-once");
        var at = DateTimeOffset.UtcNow;
        var hour = new HourDelta(new DateTimeOffset(at.UtcTicks - at.UtcTicks % TimeSpan.TicksPerHour, TimeSpan.Zero));
        hour.Counts.Scans = hour.Counts.Humans = 7;
        hour.Count(new DimKey(Dimensions.Country, "FR"), 7);
        var register = new VisitorRegister(DateOnly.FromDateTime(at.UtcDateTime), 42, 5);
        var id = Guid.CreateVersion7();

        // Four writers of one batch id at the same moment: the first insert of the id holds the others on its key
        // until it commits, then they find it and add nothing.
        var writes = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
            new RollupRepository(dataSource).WriteAsync(id, [(code, hour)], [(code, register)], CancellationToken.None))));
        Assert.Single(writes, written => written);
        Assert.False(await new RollupRepository(dataSource).WriteAsync(id, [(code, hour)], [(code, register)], CancellationToken.None));

        Assert.Equal(7L, await ScalarAsync(dataSource, $"SELECT sum(scans) FROM qr_rollup_hourly WHERE qr_code_id = {code}"));
        Assert.Equal(7L, await ScalarAsync(dataSource, $"SELECT sum(scans) FROM qr_rollup_dims_hourly WHERE qr_code_id = {code}"));
        Assert.Equal(7L, await ScalarAsync(dataSource, $"SELECT sum(scans) FROM qr_rollup_dims_daily WHERE qr_code_id = {code}"));

        // A lower rank for the same register, in a new batch, leaves the higher one.
        Assert.True(await new RollupRepository(dataSource).WriteAsync(
            Guid.CreateVersion7(), [], [(code, register with { Rank = 2 })], CancellationToken.None));
        Assert.Equal(5L, await ScalarAsync(dataSource, $"SELECT rank::bigint FROM qr_rollup_visitor_registers WHERE qr_code_id = {code}"));
    }

    /// <summary>Visitor hashes as the silo makes them: uniformly distributed 64-bit values (SplitMix64 of the visitor's number).</summary>
    private static ulong VisitorHash(int visitor)
    {
        var z = (ulong)visitor * 0x9E3779B97F4A7C15UL + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static RollupSink NewSink(IRollupStore store)
    {
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();
        return new RollupSink(store, new SiloMetrics(meters), TimeProvider.System, NullLogger<RollupSink>.Instance);
    }

    private static async Task<long> CreateCodeAsync(NpgsqlDataSource dataSource, string name) =>
        (await new CodeRepository(dataSource).InsertAsync(name, new CreateCodeCommand("https://example.org/", null, null)))!.Id;

    private static async Task<Dictionary<int, byte>> RegistersAsync(NpgsqlDataSource dataSource, long code, DateOnly day)
    {
        await using var command = dataSource.CreateCommand("SELECT register, rank FROM qr_rollup_visitor_registers WHERE qr_code_id = $1 AND day = $2");
        command.Parameters.Add(new() { Value = code });
        command.Parameters.Add(new() { Value = day });
        var registers = new Dictionary<int, byte>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            registers[reader.GetInt16(0)] = (byte)reader.GetInt16(1);
        }

        return registers;
    }

    private static async Task<long> ScalarAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    /// <summary>The real store, except that on demand the answer of a committed write is lost (the connection broke after COMMIT).</summary>
    private sealed class AnswerLosingStore(RollupRepository inner) : IRollupStore
    {
        public bool LoseNextAnswer { get; set; }

        public List<bool> Answers { get; } = [];

        public async Task<bool> WriteAsync(
            Guid flushId, IReadOnlyCollection<(long CodeId, HourDelta Hour)> hours,
            IReadOnlyCollection<(long CodeId, VisitorRegister Register)> registers, CancellationToken cancellationToken)
        {
            var written = await inner.WriteAsync(flushId, hours, registers, cancellationToken);
            Answers.Add(written);
            if (LoseNextAnswer)
            {
                LoseNextAnswer = false;
                throw new NpgsqlException("Exception while reading from stream", new IOException("connection reset after COMMIT"));
            }

            return written;
        }
    }
}
