using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;

namespace XtacGateway.Tests.Infrastructure;

/// <summary>Hand-crafted compact JWTs for the attacks the development issuer's <c>Mint</c> cannot express.</summary>
internal static class Jwt
{
    /// <summary>Serialises <paramref name="header"/> and <paramref name="payload"/>, and signs <c>header.payload</c> with <paramref name="sign"/> (none: empty signature).</summary>
    public static string Create(IReadOnlyDictionary<string, object?> header, IReadOnlyDictionary<string, object?> payload, Func<byte[], byte[]>? sign = null)
    {
        var signingInput = $"{Encode(header)}.{Encode(payload)}";
        var signature = sign is null ? string.Empty : Base64UrlEncoder.Encode(sign(Encoding.ASCII.GetBytes(signingInput)));
        return $"{signingInput}.{signature}";
    }

    /// <summary>The base64url JSON form of one token part.</summary>
    public static string Encode(IReadOnlyDictionary<string, object?> part) => Base64UrlEncoder.Encode(JsonSerializer.SerializeToUtf8Bytes(part));

    /// <summary>The three dot-separated parts of a compact JWS.</summary>
    public static string[] Parts(string token)
    {
        var parts = token.Split('.');
        Assert.Equal(3, parts.Length);
        return parts;
    }

    /// <summary>Decodes a part (header or payload) of a token as JSON.</summary>
    public static JsonElement DecodePart(string token, int index)
    {
        using var json = JsonDocument.Parse(Base64UrlEncoder.DecodeBytes(Parts(token)[index]));
        return json.RootElement.Clone();
    }

    public static JsonElement Header(string token) => DecodePart(token, 0);

    public static JsonElement Payload(string token) => DecodePart(token, 1);

    /// <summary>The payload as a mutable dictionary of JSON values, to change and re-encode.</summary>
    public static Dictionary<string, object?> PayloadValues(string token)
        => Payload(token).EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone(), StringComparer.Ordinal);
}
