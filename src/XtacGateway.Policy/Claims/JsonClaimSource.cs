using System.Text.Json;

namespace XtacGateway.Policy.Claims;

/// <summary>Claims given as a JSON object, as in an <c>evaluate</c> request or a decoded token payload.</summary>
public sealed class JsonClaimSource(JsonElement claims) : IClaimSource
{
    public IEnumerable<string> GetValues(string claimType)
    {
        if (claims.ValueKind != JsonValueKind.Object || !claims.TryGetProperty(claimType, out var value))
        {
            return [];
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            return ToText(value) is { } single ? [single] : [];
        }

        var values = new List<string>(value.GetArrayLength());
        foreach (var item in value.EnumerateArray())
        {
            if (ToText(item) is { } text)
            {
                values.Add(text);
            }
        }

        return values;
    }

    /// <summary>
    /// A value as the gateway's token library gives it: a JSON null is an empty string there, not no value, so that a
    /// <c>"groups": [..., null]</c> is unreadable (fail closed) here as in the gateway, not a shorter list.
    /// </summary>
    private static string? ToText(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Null => string.Empty,
        JsonValueKind.Undefined => null,
        _ => value.GetRawText(),
    };
}
