using InvexQr.Abstractions;

namespace InvexQr.Grains.Live;

/// <summary>
/// The silo-local live tap code grains tell about each recorded scan. It costs one read of a field while nobody
/// watches, and a counter increment under a short lock for a watched topic: never a call, never per viewer.
/// </summary>
public interface ILiveTap
{
    void Record(long ownerId, string code, DateTimeOffset at, GeoLocation? location);
}
