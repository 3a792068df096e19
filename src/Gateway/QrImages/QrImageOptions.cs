namespace InvexQr.Gateway.QrImages;

/// <summary>How a QR image is drawn; every field is bounded (see <see cref="Validate"/>).</summary>
/// <param name="Size">Width and height in pixels, exactly (PNG: whole pixels per module, the rest goes to the quiet zone).</param>
/// <param name="Margin">Quiet zone in modules (the QR standard asks for 4).</param>
/// <param name="ErrorCorrection">L, M, Q or H (7, 15, 25, 30 % of the code can be damaged).</param>
public sealed record QrImageOptions(int Size, int Margin, char ErrorCorrection, Rgb Foreground, Rgb Background)
{
    public const int MinSize = 64, MaxSize = 4096, MaxMargin = 16;

    public static readonly QrImageOptions Default = new(512, 4, 'M', new Rgb(0, 0, 0), new Rgb(255, 255, 255));

    /// <summary>
    /// Parses query parameters; returns the options or, per bad parameter, why it is bad. <paramref name="maxSize"/>
    /// is the gateway's ceiling (<see cref="QrImageLimits.MaxSize"/>), at most <see cref="MaxSize"/>.
    /// </summary>
    public static (QrImageOptions? Options, Dictionary<string, string[]> Errors) Parse(
        string? size, string? margin, string? ecc, string? fg, string? bg, int maxSize = MaxSize)
    {
        maxSize = Math.Clamp(maxSize, MinSize, MaxSize);
        var errors = new Dictionary<string, string[]>();
        var result = Default;

        if (size is not null)
        {
            if (int.TryParse(size, out var s) && s >= MinSize && s <= maxSize)
            {
                result = result with { Size = s };
            }
            else
            {
                errors["size"] = [$"size must be a whole number of pixels from {MinSize} to {maxSize}."];
            }
        }

        if (margin is not null)
        {
            if (int.TryParse(margin, out var m) && m is >= 0 and <= MaxMargin)
            {
                result = result with { Margin = m };
            }
            else
            {
                errors["margin"] = [$"margin must be a whole number of modules from 0 to {MaxMargin}."];
            }
        }

        if (ecc is not null)
        {
            if (ecc.Length == 1 && "LMQHlmqh".Contains(ecc[0]))
            {
                result = result with { ErrorCorrection = char.ToUpperInvariant(ecc[0]) };
            }
            else
            {
                errors["ecc"] = ["ecc must be one of L, M, Q, H."];
            }
        }

        if (fg is not null)
        {
            if (Rgb.TryParse(fg, out var color))
            {
                result = result with { Foreground = color };
            }
            else
            {
                errors["fg"] = ["fg must be a hex colour such as 000000 or #1a2b3c."];
            }
        }

        if (bg is not null)
        {
            if (Rgb.TryParse(bg, out var color))
            {
                result = result with { Background = color };
            }
            else
            {
                errors["bg"] = ["bg must be a hex colour such as ffffff or #fafafa."];
            }
        }

        if (errors.Count == 0 && result.Foreground.Contrast(result.Background) < 3.0)
        {
            // Scanners need contrast: refuse colour pairs that many phones cannot read.
            errors["fg"] = ["fg and bg must contrast at least 3:1 so phones can scan the code."];
        }

        return errors.Count == 0 ? (result, errors) : (null, errors);
    }
}

/// <summary>An opaque colour.</summary>
public readonly record struct Rgb(byte R, byte G, byte B)
{
    public string Hex => $"#{R:x2}{G:x2}{B:x2}";

    public static bool TryParse(string value, out Rgb color)
    {
        var hex = value.StartsWith('#') ? value[1..] : value;
        color = default;
        if (hex.Length != 6 || !uint.TryParse(hex, System.Globalization.NumberStyles.HexNumber, null, out var v))
        {
            return false;
        }

        color = new Rgb((byte)(v >> 16), (byte)(v >> 8), (byte)v);
        return true;
    }

    /// <summary>WCAG contrast ratio between two colours (1 to 21).</summary>
    public double Contrast(Rgb other)
    {
        var (a, b) = (Luminance(this), Luminance(other));
        return (Math.Max(a, b) + 0.05) / (Math.Min(a, b) + 0.05);
    }

    private static double Luminance(Rgb c)
    {
        static double Channel(byte v)
        {
            var s = v / 255.0;
            return s <= 0.03928 ? s / 12.92 : Math.Pow((s + 0.055) / 1.055, 2.4);
        }

        return (0.2126 * Channel(c.R)) + (0.7152 * Channel(c.G)) + (0.0722 * Channel(c.B));
    }
}
