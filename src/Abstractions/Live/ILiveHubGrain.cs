using Orleans.Concurrency;

namespace InvexQr.Abstractions;

/// <summary>
/// The cluster's live-view exchange (one activation, key 0). Each silo's live tap publishes the coalesced deltas of the
/// watched topics a few times a second and learns from the answer which topics are watched; each gateway with live
/// viewers polls the deltas of its viewers' topics, which also renews its interest in them. Scans never call it:
/// the load is a few calls a second per silo and per watching gateway, whatever the scan rate or number of viewers.
/// </summary>
public interface ILiveHubGrain : IGrainWithIntegerKey
{
    /// <summary>A silo's deltas since its previous call; the watch set when its version differs from <paramref name="knownVersion"/>, else null.</summary>
    Task<LiveWatchSet?> Publish(LiveDelta[] deltas, long knownVersion);

    /// <summary>
    /// The deltas after <paramref name="cursor"/> for <paramref name="topics"/> (0: from now on), and a lease on these
    /// topics for <paramref name="gateway"/>; an empty list ends the gateway's interest at once.
    /// </summary>
    Task<LiveBatch> Poll(string gateway, LiveTopic[] topics, long cursor);
}
