using System.Security.Cryptography;

namespace InvexQr.Grains.Codes;

/// <summary>Random short codes from <see cref="CodeFormat.RandomAlphabet"/>, cryptographically random so they cannot be guessed in sequence.</summary>
public static class CodeGenerator
{
    public static string NewCode(int length)
    {
        if (length is < CodeFormat.MinLength or > CodeFormat.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(length));
        }

        return RandomNumberGenerator.GetString(CodeFormat.RandomAlphabet, length);
    }
}
