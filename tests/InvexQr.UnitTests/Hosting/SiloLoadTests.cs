using InvexQr.Silo.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace InvexQr.UnitTests.Hosting;

public sealed class SiloLoadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("silo-load-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_stalled_total_is_read_from_the_some_line_of_a_pressure_file()
    {
        var path = Psi("some avg10=12.50 avg60=3.00 avg300=0.75 total=26479070314\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n");
        Assert.Equal(26479070314, SiloLoad.ReadStalledUs(path));
        Assert.Null(SiloLoad.ReadStalledUs(Psi("full avg10=0.00 total=7\n")));
        Assert.Null(SiloLoad.ReadStalledUs(Psi("some avg10=1.00 total=lots\n")));
        Assert.Null(SiloLoad.ReadStalledUs(Path.Combine(_dir, "missing")));
    }

    [Fact]
    public void Without_a_pressure_file_the_silo_never_counts_as_saturated()
    {
        using var load = new SiloLoad(new FakeTimeProvider(), NullLogger<SiloLoad>.Instance, [Path.Combine(_dir, "missing"), Psi("")]);
        Assert.Null(load.Source);
        Assert.False(load.Saturated);
    }

    [Fact]
    public void A_configured_pressure_file_must_hold_pressure_and_is_the_only_one_read()
    {
        var missing = Path.Combine(_dir, "missing");
        var error = Assert.Throws<InvalidOperationException>(() => SiloLoad.Create(new FakeTimeProvider(), NullLogger<SiloLoad>.Instance, missing));
        Assert.Contains("Silo:CpuPressureFile", error.Message);
        Assert.Contains(missing, error.Message);

        var path = Psi(Line(0));
        using var load = SiloLoad.Create(new FakeTimeProvider(), NullLogger<SiloLoad>.Instance, path);
        Assert.Equal(path, load.Source);
    }

    [Fact]
    public void Saturated_after_a_few_busy_samples_and_free_again_only_well_below_the_threshold()
    {
        var clock = new FakeTimeProvider();
        var stalledUs = 0L;
        var path = Psi(Line(stalledUs));
        using var load = new SiloLoad(clock, NullLogger<SiloLoad>.Instance, [Path.Combine(_dir, "missing"), path]);
        Assert.Equal(path, load.Source);

        // Each 100 ms sample: the share of it in which some task waited for a core.
        void Step(double share)
        {
            stalledUs += (long)(share * 100_000);
            File.WriteAllText(path, Line(stalledUs));
            clock.Advance(TimeSpan.FromMilliseconds(100));
        }

        Step(0);
        Step(1);
        Assert.False(load.Saturated); // one busy sample is not saturation
        for (var i = 0; i < 5; i++)
        {
            Step(1);
        }

        Assert.True(load.Saturated);
        Assert.InRange(load.Pressure, 0.8, 1);
        for (var i = 0; i < 5; i++)
        {
            Step(0.45); // between the two thresholds: still saturated
        }

        Assert.True(load.Saturated);
        Assert.InRange(load.Pressure, SiloLoad.FreeBelow, SiloLoad.SaturatedAbove);
        for (var i = 0; i < 10; i++)
        {
            Step(0.05);
        }

        Assert.False(load.Saturated);
        Assert.True(load.Pressure < SiloLoad.FreeBelow);
    }

    private static string Line(long stalledUs) => $"some avg10=0.00 avg60=0.00 avg300=0.00 total={stalledUs}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";

    private string Psi(string text)
    {
        var path = Path.Combine(_dir, $"cpu-{Guid.NewGuid():N}.pressure");
        File.WriteAllText(path, text);
        return path;
    }
}
