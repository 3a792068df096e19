using InvexQr.Abstractions;



namespace InvexQr.Grains.Scans;

/// <summary>
/// One raw scan as written to <c>qr_scans</c>. The id is a UUIDv7 made at scan time, so a replayed
/// write of the same scan can never create a second row. <see cref="Route"/>: the routing rule or variant that sent it.
/// </summary>
public sealed record ScanRecord(
    Guid Id,
    long CodeId,
    DateTimeOffset ScannedAt,
    string? IpAddress,
    string? UserAgent,
    string? Referer,
    GeoLocation? Location = null,
    ClientInfo? Client = null,
    bool IsRepeat = false,
    long? VisitorHash = null,
    string? Route = null);
