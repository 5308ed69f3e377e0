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

    private static string? ToText(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        _ => value.GetRawText(),
    };
}
