namespace InvexQr.Grains.Protection;

/// <summary>
/// The secret salt of each UTC day, shared by all silos (stored in <c>privacy_salts</c>, deleted after
/// two days). Read on the scan path, so it must answer from memory.
/// </summary>
public interface IDailySalts
{
    /// <summary>The salt of <paramref name="day"/>, or null when it is not loaded (the database was unreachable).</summary>
    byte[]? SaltFor(DateOnly day);
}
