using System.Text.Json.Nodes;
using XtacGateway.Policy.Model;
using XtacGateway.Policy.Validation;

namespace XtacGateway.Admin;

/// <summary>
/// Property names an admin body spells in another case than Graph's (<c>B2bDirectConnectInbound</c>,
/// <c>IsMfaAccepted</c>: PowerShell and .NET habits). JSON names are case-sensitive and an unknown property is kept but
/// never read, so without this such a change would be answered 204 and enforce nothing it says (or, inside a replaced
/// <c>inboundTrust</c>, leave the setting it meant to turn on inherited).
/// </summary>
internal static class PropertySpelling
{
    /// <summary>The names a partner or the default may hold, at any depth, by themselves in any case.</summary>
    private static readonly Dictionary<string, string> s_names = PolicyNames(
        typeof(CrossTenantAccessPolicyConfigurationPartner), typeof(CrossTenantAccessPolicyConfigurationDefault));

    /// <summary>Every property under <paramref name="node"/> named as a policy property is, but in another case.</summary>
    public static IEnumerable<PolicyError> Miscased(JsonNode? node)
    {
        if (node is JsonObject properties)
        {
            foreach (var (name, value) in properties)
            {
                if (s_names.TryGetValue(name, out var spelled) && !string.Equals(name, spelled, StringComparison.Ordinal))
                {
                    yield return new PolicyError($"{properties.GetPath()}.{name}",
                        $"'{name}' is not a property of the policy: names are case-sensitive, and the policy's is '{spelled}' (an unknown property would be kept, but never read).");
                }

                foreach (var error in Miscased(value))
                {
                    yield return error;
                }
            }
        }
        else if (node is JsonArray items)
        {
            foreach (var item in items)
            {
                foreach (var error in Miscased(item))
                {
                    yield return error;
                }
            }
        }
    }

    /// <summary>The JSON names of the model's properties, from the serializer's own metadata: one list of them, the model.</summary>
    private static Dictionary<string, string> PolicyNames(params Type[] roots)
    {
        var names = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var visited = new HashSet<Type>();
        void Visit(Type type)
        {
            if (!visited.Add(type) || PolicyJsonContext.Default.GetTypeInfo(type) is not { } info)
            {
                return;
            }

            if (info.ElementType is { } element)
            {
                Visit(element);
                return;
            }

            foreach (var property in info.Properties.Where(p => !p.IsExtensionData))
            {
                names.TryAdd(property.Name, property.Name);
                Visit(property.PropertyType);
            }
        }

        foreach (var root in roots)
        {
            Visit(root);
        }

        return names;
    }
}
