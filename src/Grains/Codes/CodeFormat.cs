namespace InvexQr.Grains.Codes;

/// <summary>
/// The shape of a short code. Checked at the gateway before any cluster call, so malformed codes
/// (wrong length, characters outside the URL-safe set) cost nothing.
/// </summary>
public static class CodeFormat
{
    public const int MinLength = 3;
    public const int MaxLength = 64;

    /// <summary>Random codes avoid look-alikes (0/O, 1/l/I) so a code read aloud or typed is unambiguous.</summary>
    public const string RandomAlphabet = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";

    public static bool IsWellFormed(ReadOnlySpan<char> code)
    {
        if (code.Length is < MinLength or > MaxLength)
        {
            return false;
        }

        foreach (var c in code)
        {
            if (!IsCodeChar(c))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsCodeChar(char c) =>
        c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-' or '_';
}
