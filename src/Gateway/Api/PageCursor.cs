using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace InvexQr.Gateway.Api;

/// <summary>An opaque keyset cursor: the (createdAt, id) of the last item of a page, base64url-encoded.</summary>
public static class PageCursor
{
    public static string Format(DateTimeOffset createdAt, long id) =>
        Base64Url.EncodeToString(Encoding.ASCII.GetBytes($"{createdAt.UtcTicks.ToString(CultureInfo.InvariantCulture)}.{id.ToString(CultureInfo.InvariantCulture)}"));

    public static bool TryParse(string cursor, out DateTimeOffset createdAt, out long id)
    {
        createdAt = default;
        id = 0;
        if (cursor.Length > 64)
        {
            return false;
        }

        try
        {
            var parts = Encoding.ASCII.GetString(Base64Url.DecodeFromChars(cursor)).Split('.');
            if (parts.Length != 2
                || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
                || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out id)
                || ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks)
            {
                return false;
            }

            createdAt = new DateTimeOffset(ticks, TimeSpan.Zero);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
