using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace XtacGateway.Authentication;

/// <summary>
/// A loopback OpenID Connect issuer for Development only, shaped like Entra's multi-tenant endpoint:
/// one key set for every tenant and an issuer per tenant that embeds the token's <c>tid</c>. Its keys live in a
/// file shared by every gateway instance and the <c>token</c> command, so a minted token works on any port.
/// </summary>
internal sealed class DevelopmentIssuer
{
    /// <summary>The issuer template; <c>{tenantid}</c> becomes the token's <c>tid</c>, as in Entra's metadata.</summary>
    public const string IssuerTemplateV2 = "https://xtac-dev-issuer.localhost/{tenantid}/v2.0";
    public const string IssuerTemplateV1 = "https://xtac-dev-issuer.localhost/{tenantid}/";

    /// <summary>Where the gateway serves the issuer's discovery documents and keys.</summary>
    public const string PathPrefix = "/.xtac-dev-issuer";

    private readonly string _path;
    private RsaSecurityKey[] _keys;
    private DateTime _stamp;

    private DevelopmentIssuer(string path, RsaSecurityKey[] keys, DateTime stamp)
    {
        _path = path;
        _keys = keys;
        _stamp = stamp;
    }

    /// <summary>The first key signs; all are published, so a rotated-out key keeps working until it is removed.</summary>
    public RsaSecurityKey SigningKey => Volatile.Read(ref _keys)[0];

    public IReadOnlyList<RsaSecurityKey> Keys => Volatile.Read(ref _keys);

    /// <summary>
    /// Re-reads the key file when it changed, so keys can be rotated while gateways run. A missing or unreadable
    /// file makes the issuer unavailable (like an identity provider outage) until it is readable again.
    /// </summary>
    public IReadOnlyList<RsaSecurityKey> CurrentKeys()
    {
        var stamp = File.GetLastWriteTimeUtc(_path);
        if (!File.Exists(_path))
        {
            throw new IOException($"The development issuer key file '{_path}' is missing.");
        }

        if (stamp != _stamp)
        {
            Volatile.Write(ref _keys, ReadKeys(File.ReadAllText(_path), _path));
            _stamp = stamp;
        }

        return _keys;
    }

    public static string DefaultKeyPath => Path.Combine(
        Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create),
        "XtacGateway",
        "dev-issuer-keys.pem");

    public static string IssuerFor(Guid tenantId) => IssuerTemplateV2.Replace("{tenantid}", tenantId.ToString(), StringComparison.Ordinal);

    /// <summary>Loads the key set from <paramref name="path"/>, creating it (once, race-free across processes) when absent.</summary>
    public static DevelopmentIssuer LoadOrCreate(string path)
    {
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            using var rsa = RSA.Create(2048);
            var temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
            WritePrivate(temp, rsa.ExportRSAPrivateKeyPem());
            try
            {
                // Another process may have won the race; its key is as good as ours.
                File.Move(temp, path, overwrite: false);
            }
            catch (IOException) when (File.Exists(path))
            {
                File.Delete(temp);
            }
        }

        return new DevelopmentIssuer(path, ReadKeys(File.ReadAllText(path), path), File.GetLastWriteTimeUtc(path));
    }

    private static RsaSecurityKey[] ReadKeys(string pem, string path)
    {
        var keys = new List<RsaSecurityKey>();
        const string Begin = "-----BEGIN";
        var start = pem.IndexOf(Begin, StringComparison.Ordinal);
        while (start >= 0)
        {
            var next = pem.IndexOf(Begin, start + Begin.Length, StringComparison.Ordinal);
            var block = next < 0 ? pem[start..] : pem[start..next];
            var rsa = RSA.Create();
            rsa.ImportFromPem(block);
            var parameters = rsa.ExportParameters(includePrivateParameters: true);
            keys.Add(new RsaSecurityKey(parameters) { KeyId = KeyIdOf(parameters) });
            start = next;
        }

        return keys.Count > 0 ? [.. keys] : throw new InvalidOperationException($"The development issuer key file '{path}' holds no RSA key.");
    }

    private static string KeyIdOf(RSAParameters parameters)
        => Base64UrlEncoder.Encode(SHA256.HashData(parameters.Modulus!).AsSpan(0, 16).ToArray());

    /// <summary>Writes a key file with a new signing key first, followed by the keys still published.</summary>
    public static void WriteKeyFile(string path, IEnumerable<RSA> keys)
    {
        var temp = $"{path}.{Guid.NewGuid():N}.tmp";
        WritePrivate(temp, string.Join(Environment.NewLine, keys.Select(k => k.ExportRSAPrivateKeyPem())));
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>
    /// Creates the file readable by its owner only: anyone who can read the key can mint tokens every Development
    /// gateway on the machine accepts.
    /// </summary>
    private static void WritePrivate(string path, string pem)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var writer = new StreamWriter(path, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false), options);
        writer.Write(pem);
    }

    /// <summary>Signs a token with the current key.</summary>
    public string Mint(IDictionary<string, object> claims, DateTimeOffset now, TimeSpan lifetime)
    {
        var descriptor = new SecurityTokenDescriptor
        {
            Claims = claims,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = now.Add(lifetime).UtcDateTime,
            SigningCredentials = new SigningCredentials(SigningKey, SecurityAlgorithms.RsaSha256),
        };

        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(descriptor);
    }

    /// <summary>The OpenID Connect discovery document, in Entra's multi-tenant form.</summary>
    public string DiscoveryDocument(string baseUrl, bool v2)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("issuer", v2 ? IssuerTemplateV2 : IssuerTemplateV1);
            writer.WriteString("jwks_uri", $"{baseUrl}{PathPrefix}/discovery/v2.0/keys");
            writer.WriteString("token_endpoint", $"{baseUrl}{PathPrefix}/token-endpoint-not-served");
            writer.WriteString("authorization_endpoint", $"{baseUrl}{PathPrefix}/authorize-endpoint-not-served");
            writer.WriteStartArray("id_token_signing_alg_values_supported");
            writer.WriteStringValue("RS256");
            writer.WriteEndArray();
            writer.WriteStartArray("response_types_supported");
            writer.WriteStringValue("token");
            writer.WriteEndArray();
            writer.WriteStartArray("subject_types_supported");
            writer.WriteStringValue("pairwise");
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The JSON Web Key Set: public halves only.</summary>
    public string KeySetDocument()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("keys");
            foreach (var key in CurrentKeys())
            {
                var p = key.Parameters;
                writer.WriteStartObject();
                writer.WriteString("kty", "RSA");
                writer.WriteString("use", "sig");
                writer.WriteString("alg", "RS256");
                writer.WriteString("kid", key.KeyId);
                writer.WriteString("n", Base64UrlEncoder.Encode(p.Modulus));
                writer.WriteString("e", Base64UrlEncoder.Encode(p.Exponent));
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
