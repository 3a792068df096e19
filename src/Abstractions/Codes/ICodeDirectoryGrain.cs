namespace InvexQr.Abstractions;

/// <summary>
/// Answers "does this code exist?" without activating the code's own grain, so that a flood of
/// unknown codes turns into neither a flood of activations nor (thanks to its negative cache) a
/// flood of database reads. One stateless worker per silo.
/// </summary>
public interface ICodeDirectoryGrain : IGrainWithIntegerKey
{
    /// <summary>True when the code is registered.</summary>
    ValueTask<bool> Exists(string code);
}
