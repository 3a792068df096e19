using System.Text;

namespace InvexQr.Gateway.Api;

/// <summary>A CSV text read as RFC 4180 records: quoted fields may hold delimiters, doubled quotes and line breaks.</summary>
public static class CsvRecords
{
    /// <summary>One record and the line (1-based) it starts on.</summary>
    public sealed record Record(int Line, IReadOnlyList<string> Fields);

    /// <summary>
    /// The records of <paramref name="text"/>, lazily; empty lines are skipped. Throws <see cref="FormatException"/> at a
    /// quoted field that never ends or that is followed by anything but a delimiter or a line break.
    /// </summary>
    public static IEnumerable<Record> Read(string text, char delimiter)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        var line = 1;
        var recordLine = 1;
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '"' && field.Length == 0)
            {
                var opened = line;
                i++;
                while (true)
                {
                    if (i >= text.Length)
                    {
                        throw new FormatException($"line {opened}: a quoted field is not closed.");
                    }

                    if (text[i] == '"')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '"')
                        {
                            field.Append('"');
                            i += 2;
                            continue;
                        }

                        i++;
                        break;
                    }

                    if (text[i] == '\n')
                    {
                        line++;
                    }

                    field.Append(text[i++]);
                }

                if (i < text.Length && text[i] != delimiter && text[i] != '\r' && text[i] != '\n')
                {
                    throw new FormatException($"line {line}: a quoted field must be followed by '{delimiter}' or the end of the line.");
                }

                continue;
            }

            if (c == delimiter)
            {
                fields.Add(field.ToString());
                field.Clear();
                i++;
            }
            else if (c is '\r' or '\n')
            {
                i += c == '\r' && i + 1 < text.Length && text[i + 1] == '\n' ? 2 : 1;
                if (fields.Count > 0 || field.Length > 0)
                {
                    fields.Add(field.ToString());
                    yield return new Record(recordLine, fields);
                    fields = [];
                    field.Clear();
                }

                line++;
                recordLine = line;
            }
            else
            {
                field.Append(c);
                i++;
            }
        }

        if (fields.Count > 0 || field.Length > 0)
        {
            fields.Add(field.ToString());
            yield return new Record(recordLine, fields);
        }
    }
}
