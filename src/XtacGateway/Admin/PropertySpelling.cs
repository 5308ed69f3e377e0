using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
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
    /// <summary>The model's types by what their JSON objects may hold: each property's exact name and type, and its name by any spelling.</summary>
    private static readonly Dictionary<Type, (Dictionary<string, Type> Exact, Dictionary<string, string> AnyCase)> s_objects = Objects(
        typeof(CrossTenantAccessPolicyConfigurationPartner), typeof(CrossTenantAccessPolicyConfigurationDefault));

    /// <summary>
    /// Every property of <paramref name="body"/>, an object of type <paramref name="type"/>, and of the known properties
    /// under it, named as one of the model's properties there is but in another case. What an unknown property holds is
    /// its own affair.
    /// </summary>
    public static IEnumerable<PolicyError> Miscased(JsonNode? body, Type type)
    {
        if (body is JsonArray items && PolicyJsonContext.Default.GetTypeInfo(type)?.ElementType is { } elementType)
        {
            foreach (var item in items)
            {
                foreach (var error in Miscased(item, elementType))
                {
                    yield return error;
                }
            }
        }
        else if (body is JsonObject properties && s_objects.TryGetValue(type, out var names))
        {
            foreach (var (name, value) in properties)
            {
                if (names.Exact.TryGetValue(name, out var propertyType))
                {
                    foreach (var error in Miscased(value, propertyType))
                    {
                        yield return error;
                    }
                }
                else if (names.AnyCase.TryGetValue(name, out var spelled))
                {
                    yield return new PolicyError($"{properties.GetPath()}.{name}",
                        $"'{name}' is not a property here: names are case-sensitive, and this one is '{spelled}' (an unknown property would be kept, but never read).");

                    // Read as the property it was meant to be, so that one answer names every name to fix.
                    foreach (var error in Miscased(value, names.Exact[spelled]))
                    {
                        yield return error;
                    }
                }
            }
        }
    }

    /// <summary>From the serializer's own metadata, so the model is the one list of names.</summary>
    private static Dictionary<Type, (Dictionary<string, Type>, Dictionary<string, string>)> Objects(params Type[] roots)
    {
        var objects = new Dictionary<Type, (Dictionary<string, Type>, Dictionary<string, string>)>();
        void Visit(Type type)
        {
            if (objects.ContainsKey(type) || PolicyJsonContext.Default.GetTypeInfo(type) is not { } info)
            {
                return;
            }

            if (info.ElementType is { } element)
            {
                Visit(element);
                return;
            }

            if (info.Kind != JsonTypeInfoKind.Object)
            {
                return;
            }

            var exact = new Dictionary<string, Type>(StringComparer.Ordinal);
            var anyCase = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            objects[type] = (exact, anyCase);
            foreach (var property in info.Properties.Where(p => !p.IsExtensionData))
            {
                exact[property.Name] = property.PropertyType;
                anyCase[property.Name] = property.Name;
                Visit(property.PropertyType);
            }
        }

        foreach (var root in roots)
        {
            Visit(root);
        }

        return objects;
    }
}
