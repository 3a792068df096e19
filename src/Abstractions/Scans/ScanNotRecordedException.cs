namespace InvexQr.Abstractions;

/// <summary>A scan that could not be handed to the sink, and so must not be acknowledged.</summary>
[GenerateSerializer]
public sealed class ScanNotRecordedException(string code)
    : Exception($"The scan of '{code}' could not be recorded; the silo is stopping or its scan sink is full.");
