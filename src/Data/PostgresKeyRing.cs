using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Npgsql;

namespace InvexQr.Data;

/// <summary>
/// Keeps the data-protection key ring in PostgreSQL (<c>dashboard_keys</c>, migration 0008), so every
/// gateway of a deployment reads and writes the same keys with nothing else to share (no volume).
/// The framework calls this rarely — on start-up, when a key is created (every 90 days) and when its
/// cached ring expires — so plain synchronous commands are fine.
/// </summary>
public sealed class PostgresKeyRing(NpgsqlDataSource dataSource) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var command = dataSource.CreateCommand("SELECT xml FROM dashboard_keys ORDER BY created_at");
        using var reader = command.ExecuteReader();
        var elements = new List<XElement>();
        while (reader.Read())
        {
            elements.Add(XElement.Parse(reader.GetString(0)));
        }

        return elements;
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        using var command = dataSource.CreateCommand(
            "INSERT INTO dashboard_keys (friendly_name, xml) VALUES ($1, $2) ON CONFLICT (friendly_name) DO NOTHING");
        command.Parameters.Add(new() { Value = friendlyName });
        command.Parameters.Add(new() { Value = element.ToString(SaveOptions.DisableFormatting) });
        command.ExecuteNonQuery();
    }
}
