using YamlDotNet.RepresentationModel;

namespace InvexQr.UnitTests.Enrichment;

/// <summary>Reads uap-core's fixture files: a <c>test_cases</c> list of mappings; an empty plain value is null.</summary>
public static class UapFixtures
{
    public static List<Dictionary<string, string?>> Load(string path)
    {
        var stream = new YamlStream();
        using (var reader = File.OpenText(path))
        {
            stream.Load(reader);
        }

        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        var cases = (YamlSequenceNode)root.Children[new YamlScalarNode("test_cases")];
        var result = new List<Dictionary<string, string?>>(cases.Children.Count);
        foreach (var item in cases.Children.Cast<YamlMappingNode>())
        {
            var fields = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var (key, value) in item.Children)
            {
                var scalar = (YamlScalarNode)value;
                var isNull = scalar.Style == YamlDotNet.Core.ScalarStyle.Plain && scalar.Value is null or "" or "~" or "null";
                fields[((YamlScalarNode)key).Value!] = isNull ? null : scalar.Value;
            }

            result.Add(fields);
        }

        return result;
    }
}
