using InvexQr.Abstractions;
using InvexQr.Grains.Scans;
using InvexQr.IntegrationTests.Infrastructure;
using InvexQr.Data;

namespace InvexQr.IntegrationTests.Database;

[Collection(PostgresCollection.Name)]
public sealed class ScanWriterTests(PostgresServer postgres)
{
    [Fact]
    public async Task A_replayed_batch_never_creates_a_duplicate_scan()
    {
        await using var dataSource = await postgres.CreateMigratedDataSourceAsync("writer");
        var code = await new CodeRepository(dataSource).InsertAsync("replay", new CreateCodeCommand("https://example.org/", null, null));
        var now = DateTimeOffset.UtcNow;
        var batch = Enumerable.Range(0, 1000)
            .Select(i => new ScanRecord(Guid.CreateVersion7(now), code!.Id, now.AddMilliseconds(-i), "203.0.113.0", "ua", null))
            .ToList();
        await using var writer = new ScanWriter(dataSource);

        var first = await writer.WriteAsync(batch, CancellationToken.None);
        var replay = await writer.WriteAsync(batch, CancellationToken.None);
        var overlapping = await writer.WriteAsync([.. batch.Take(10), new ScanRecord(Guid.CreateVersion7(now), code!.Id, now, null, null, null)], CancellationToken.None);

        Assert.Equal(1000, first);
        Assert.Equal(0, replay);
        Assert.Equal(1, overlapping);
        await using var count = dataSource.CreateCommand("SELECT count(*), count(DISTINCT id) FROM qr_scans");
        await using var reader = await count.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal(1001, reader.GetInt64(0));
        Assert.Equal(1001, reader.GetInt64(1));
    }

    [Fact]
    public async Task A_scan_from_a_month_without_partition_still_lands()
    {
        await using var dataSource = await postgres.CreateMigratedDataSourceAsync("writer");
        var code = await new CodeRepository(dataSource).InsertAsync("far-future", new CreateCodeCommand("https://example.org/", null, null));
        var farAway = DateTimeOffset.UtcNow.AddYears(3);
        await using var writer = new ScanWriter(dataSource);

        Assert.Equal(1, await writer.WriteAsync([new ScanRecord(Guid.CreateVersion7(farAway), code!.Id, farAway, null, null, null)], CancellationToken.None));

        await using var count = dataSource.CreateCommand("SELECT count(*) FROM qr_scans_default");
        Assert.Equal(1L, (long)(await count.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task A_nul_character_in_a_header_does_not_poison_the_batch()
    {
        await using var dataSource = await postgres.CreateMigratedDataSourceAsync("writer");
        var code = await new CodeRepository(dataSource).InsertAsync("nul-ua", new CreateCodeCommand("https://example.org/", null, null));
        var now = DateTimeOffset.UtcNow;
        await using var writer = new ScanWriter(dataSource);

        var written = await writer.WriteAsync(
            [new ScanRecord(Guid.CreateVersion7(now), code!.Id, now, null, "evil\0agent", "https://ref\0erer/")], CancellationToken.None);

        Assert.Equal(1, written);
        await using var read = dataSource.CreateCommand("SELECT user_agent FROM qr_scans");
        Assert.Equal("evilagent", await read.ExecuteScalarAsync());
    }
}
