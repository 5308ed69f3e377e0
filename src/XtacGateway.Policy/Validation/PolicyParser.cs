using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using XtacGateway.Policy.Model;

namespace XtacGateway.Policy.Validation;

/// <summary>
/// Reads and validates a policy document. Every rule of the schema is checked in one pass and every
/// error is collected with its JSON path; a document with any error is rejected whole.
/// </summary>
/// <remarks>
/// No DOM of the whole document is ever built: a policy may hold 100,000 partners. A first reader pass
/// finds where each top-level property lies; the small rest of the document (the default and unknown
/// properties) is then parsed as one object, and the partners are validated as a stream, one small DOM
/// each; only a valid document's partners are then read into the typed model.
/// </remarks>
public static class PolicyParser
{
    /// <summary>How deeply a policy document may nest (unknown properties are kept, so they count too).</summary>
    public const int MaxDepth = 64;

    /// <summary>
    /// How deeply JSON that carries a policy document or a part of one (an audit entry and a page of them, the
    /// last-known-good file) may nest: a few levels above <see cref="MaxDepth"/>, so whatever a policy holds, its
    /// carriers can hold it.
    /// </summary>
    public const int CarrierMaxDepth = MaxDepth + 8;

    private static readonly JsonReaderOptions s_readerOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = false,
        MaxDepth = MaxDepth,
    };

    private static readonly JsonDocumentOptions s_documentOptions = new()
    {
        CommentHandling = s_readerOptions.CommentHandling,
        AllowTrailingCommas = s_readerOptions.AllowTrailingCommas,
        MaxDepth = s_readerOptions.MaxDepth,
    };

    /// <summary>Parses and validates a UTF-8 policy document.</summary>
    /// <param name="utf8Json">The document.</param>
    /// <param name="resourceTenantId">The organisation the policy protects; when given, no partner may name it.</param>
    public static PolicyParseResult Parse(ReadOnlyMemory<byte> utf8Json, Guid? resourceTenantId = null)
    {
        utf8Json = AsJsonText(utf8Json, out var notText);
        if (notText is not null)
        {
            return PolicyParseResult.Failure([notText]);
        }

        var errors = Validate(utf8Json, resourceTenantId, out var valid);
        if (valid is null)
        {
            return PolicyParseResult.Failure(errors);
        }

        using (valid)
        {
            // One deserializer call for the whole list rather than one per partner: each call costs about 350 bytes of
            // serializer state (35 MB for 100,000 partners), and the model is not held while partners are validated.
            IReadOnlyList<CrossTenantAccessPolicyConfigurationPartner> partners = valid.PartnerList is { } list
                ? JsonSerializer.Deserialize(utf8Json.Span[list], PolicyJsonContext.Default.IReadOnlyListCrossTenantAccessPolicyConfigurationPartner)!
                : [];
            return PolicyParseResult.Success(Materialize(valid, partners, utf8Json.Span));
        }
    }

    /// <summary>
    /// Validates like <see cref="Parse(ReadOnlyMemory{byte}, Guid?)"/>; when the document is valid, never holds its typed
    /// model whole: the default goes to <paramref name="onDefault"/> (with the number of partners), then each partner is
    /// deserialized on its own, given to <paramref name="onPartner"/>, written out and dropped.
    /// </summary>
    /// <param name="compactDocument">
    /// The document as <see cref="PolicyWriter.WriteUtf8"/> writes it unindented (the same bytes, so the same ETag): part
    /// of <paramref name="utf8Json"/> itself when that already is this form, otherwise a copy; null when invalid.
    /// </param>
    /// <returns>Every error found; empty when the document is valid.</returns>
    internal static IReadOnlyList<PolicyError> ParseEachPartner(
        ReadOnlyMemory<byte> utf8Json,
        Guid? resourceTenantId,
        Action<CrossTenantAccessPolicyConfigurationDefault?, int> onDefault,
        Action<CrossTenantAccessPolicyConfigurationPartner> onPartner,
        out ReadOnlyMemory<byte>? compactDocument)
    {
        compactDocument = null;
        utf8Json = AsJsonText(utf8Json, out var notText);
        if (notText is not null)
        {
            return [notText];
        }

        var errors = Validate(utf8Json, resourceTenantId, out var valid);
        if (valid is null)
        {
            return errors;
        }

        using (valid)
        {
            // The document without its partners is small; the writer puts the partners where the typed list would go.
            var shell = Materialize(valid, [], utf8Json.Span);
            onDefault(shell.Default, valid.PartnerCount);
            using var buffer = new OriginalOrCopyBufferWriter(utf8Json);
            using (var writer = new Utf8JsonWriter(buffer))
            {
                PolicyWriter.Write(writer, shell, w => StreamPartners(w, utf8Json, valid.PartnerList, onPartner));
            }

            compactDocument = buffer.WrittenMemory();
            return errors;
        }
    }

    private static void StreamPartners(
        Utf8JsonWriter writer, ReadOnlyMemory<byte> utf8Json, Range? list, Action<CrossTenantAccessPolicyConfigurationPartner> onPartner)
    {
        writer.WriteStartArray();
        if (list is { } bytes)
        {
            var partnerInfo = PolicyJsonContext.Default.CrossTenantAccessPolicyConfigurationPartner;
            var reader = new Utf8JsonReader(utf8Json.Span[bytes], s_readerOptions);
            reader.Read();
            // One deserializer call per partner costs ~350 bytes of short-lived state each (35 MB of gen0 garbage for
            // 100,000 partners), but nothing of the typed model outlives its partner.
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                var partner = JsonSerializer.Deserialize(ref reader, partnerInfo)!;
                onPartner(partner);
                JsonSerializer.Serialize(writer, partner, partnerInfo);
            }
        }

        writer.WriteEndArray();
    }

    /// <summary>
    /// Checks every rule; returns all errors, and when there are none the validated layout in <paramref name="valid"/>
    /// (null otherwise), which the caller disposes.
    /// </summary>
    private static IReadOnlyList<PolicyError> Validate(ReadOnlyMemory<byte> utf8Json, Guid? resourceTenantId, out ValidDocument? valid)
    {
        valid = null;
        var json = utf8Json.Span;
        TopLevelLayout layout;
        try
        {
            layout = TopLevelLayout.Read(json);
        }
        catch (JsonException ex)
        {
            return [MalformedJsonError(ex)];
        }

        var errors = new List<PolicyError>();
        var validator = new DocumentValidator(errors, resourceTenantId);
        if (!layout.RootIsObject)
        {
            // Not a policy at all: such a root can only be rejected, so the whole DOM is fine here.
            using var whole = JsonDocument.Parse(utf8Json, s_documentOptions);
            validator.ValidateDocument(whole.RootElement);
            return errors;
        }

        var topLevel = JsonDocument.Parse(JoinAsObject(json, layout.MembersOtherThanPartners), s_documentOptions);
        validator.ValidateDocument(topLevel.RootElement);
        var (partnersValid, list, count) = ValidatePartners(json, layout, validator);
        if (!partnersValid || errors.Count > 0)
        {
            topLevel.Dispose();
            return errors;
        }

        valid = new ValidDocument(topLevel, layout, list, count);
        return errors;
    }

    /// <summary>Parses and validates a policy document given as text.</summary>
    public static PolicyParseResult Parse(string json, Guid? resourceTenantId = null)
        => Parse(Encoding.UTF8.GetBytes(json), resourceTenantId);

    /// <summary>Validates a document built in memory (for example by an admin change) by the same rules as a file.</summary>
    public static PolicyParseResult Validate(PolicyDocument document, Guid? resourceTenantId = null)
        => Parse(PolicyWriter.WriteUtf8(document), resourceTenantId);

    /// <summary>
    /// JSON text as the parsers take it: the bytes after a leading UTF-8 byte order mark, which Windows editors write
    /// (PowerShell 5.1's <c>-Encoding UTF8</c>) and JSON parsers may ignore (RFC 8259 §8.1), though System.Text.Json's
    /// span parsers do not; and in <paramref name="notText"/> the error, with the line and byte where it is, when they
    /// are not UTF-8 or escape half a surrogate pair. The reader looks at a string's bytes only when the string is read:
    /// without this check either would surface later as an exception, not as an error of the document.
    /// </summary>
    public static ReadOnlyMemory<byte> AsJsonText(ReadOnlyMemory<byte> bytes, out PolicyError? notText)
    {
        if (bytes.Span.StartsWith(Encoding.UTF8.Preamble))
        {
            bytes = bytes[Encoding.UTF8.Preamble.Length..];
        }

        notText = Utf8.IsValid(bytes.Span) ? LoneSurrogateError(bytes.Span) : NotUtf8Error(bytes.Span);
        return bytes;
    }

    private static PolicyError NotUtf8Error(ReadOnlySpan<byte> bytes)
    {
        var at = 0;
        while (at < bytes.Length && Rune.DecodeFromUtf8(bytes[at..], out _, out var consumed) == OperationStatus.Done)
        {
            at += consumed;
        }

        return new PolicyError("$", $"Not UTF-8 at {LineAndByte(bytes, at)}: JSON text must be UTF-8.");
    }

    /// <summary>
    /// An escape of half a UTF-16 surrogate pair (<c>"\ud800"</c> with no low half after it, or a low half alone) in a
    /// string or a property name: JSON's grammar allows it (RFC 8259 §8.2), but it spells no Unicode text, and
    /// System.Text.Json throws when it reads it. Comments are no strings; a document the reader refuses is left to the
    /// parser, which says why.
    /// </summary>
    private static PolicyError? LoneSurrogateError(ReadOnlySpan<byte> json)
    {
        if (json.IndexOf("\\u"u8) < 0)
        {
            // No \u escape anywhere (most policies): no token need be read.
            return null;
        }

        var reader = new Utf8JsonReader(json, s_readerOptions);
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped
                    && LoneSurrogateIn(reader.ValueSpan) is var (at, unit))
                {
                    // The value starts after its opening quote.
                    var position = (int)reader.TokenStartIndex + 1 + at;
                    return new PolicyError("$", $"Not Unicode text at {LineAndByte(json, position)}: '\\u{(int)unit:x4}' escapes half of a UTF-16 surrogate pair.");
                }
            }
        }
        catch (JsonException)
        {
            // Malformed: the parser reports it, with its line and byte.
        }

        return null;
    }

    /// <summary>The first escape of half a surrogate pair in a string's raw (still escaped) text: where, and which.</summary>
    private static (int At, char Unit)? LoneSurrogateIn(ReadOnlySpan<byte> text)
    {
        var at = 0;
        while (at < text.Length && text[at..].IndexOf((byte)'\\') is var next and >= 0)
        {
            at += next;
            if (!TryReadUnicodeEscape(text, at, out var unit))
            {
                // Any other escape ("\\" too, so its second backslash is never read as the start of one).
                at += 2;
                continue;
            }

            if (char.IsHighSurrogate(unit) && TryReadUnicodeEscape(text, at + 6, out var low) && char.IsLowSurrogate(low))
            {
                at += 12;
                continue;
            }

            if (char.IsSurrogate(unit))
            {
                return (at, unit);
            }

            at += 6;
        }

        return null;
    }

    private static bool TryReadUnicodeEscape(ReadOnlySpan<byte> json, int at, out char unit)
    {
        unit = default;
        if (at + 6 > json.Length || json[at] != (byte)'\\' || json[at + 1] != (byte)'u'
            || !ushort.TryParse(json.Slice(at + 2, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
        {
            return false;
        }

        unit = (char)value;
        return true;
    }

    /// <summary>Where byte <paramref name="at"/> is, as people count: "line 3, byte 14".</summary>
    private static string LineAndByte(ReadOnlySpan<byte> bytes, int at)
    {
        var before = bytes[..at];
        var lineStart = before.LastIndexOf((byte)'\n') + 1;
        return $"line {before.Count((byte)'\n') + 1}, byte {at - lineStart + 1}";
    }

    /// <summary>Describes a JSON syntax error with its line and byte, counted from one.</summary>
    public static PolicyError MalformedJsonError(JsonException ex)
    {
        // JsonException numbers lines and bytes from zero; people count from one.
        var line = (ex.LineNumber ?? 0) + 1;
        var position = (ex.BytePositionInLine ?? 0) + 1;
        var message = ex.Message;
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut > 0)
        {
            message = message[..cut];
        }

        return new PolicyError("$", $"Malformed JSON at line {line}, byte {position}: {message}");
    }

    /// <summary>
    /// Validates the partners one element at a time, each as its own small DOM. Returns where the partner array lies
    /// (null when there is none) and how many partners it holds; not valid when the partners are not a list at all.
    /// </summary>
    private static (bool Valid, Range? List, int Count) ValidatePartners(ReadOnlySpan<byte> json, TopLevelLayout layout, DocumentValidator validator)
    {
        if (layout.Partners is not { } list)
        {
            return (true, null, 0);
        }

        var path = "$.partners";
        if (list.Token == JsonTokenType.StartObject)
        {
            if (layout.EnvelopeList is not { } value)
            {
                validator.EnvelopeWithoutList(path);
                return (false, null, 0);
            }

            list = value;
            path = "$.partners.value";
        }

        if (list.Token == JsonTokenType.Null)
        {
            return (true, null, 0);
        }

        if (list.Token != JsonTokenType.StartArray)
        {
            using var notAList = JsonDocument.Parse(json[list.Bytes].ToArray(), s_documentOptions);
            validator.PartnersNotAnArray(path, notAList.RootElement);
            return (false, null, 0);
        }

        // The first pass has checked the syntax of these bytes, so neither this reader nor a deserializer can fail.
        var reader = new Utf8JsonReader(json[list.Bytes], s_readerOptions);
        reader.Read();
        var index = 0;
        for (; reader.Read() && reader.TokenType != JsonTokenType.EndArray; index++)
        {
            using var partner = JsonDocument.ParseValue(ref reader);
            validator.ValidatePartner(partner.RootElement, $"{path}[{index}]");
        }

        return (true, list.Bytes, index);
    }

    private static PolicyDocument Materialize(
        ValidDocument valid, IReadOnlyList<CrossTenantAccessPolicyConfigurationPartner> partners, ReadOnlySpan<byte> json)
    {
        var topLevel = valid.TopLevel.RootElement;
        var layout = valid.Layout;
        var context = PolicyJsonContext.Default;
        var defaults = topLevel.GetProperty("default").Deserialize(context.CrossTenantAccessPolicyConfigurationDefault);

        Dictionary<string, JsonElement>? additional = null;
        foreach (var property in topLevel.EnumerateObject())
        {
            if (!property.NameEquals("default"))
            {
                (additional ??= [])[property.Name] = property.Value.Clone();
            }
        }

        // The envelope's members other than 'value' read as a list response without a list: they land in its AdditionalData.
        var envelope = layout.Partners?.Token == JsonTokenType.StartObject
            ? JsonSerializer.Deserialize(JoinAsObject(json, layout.EnvelopeMembersOtherThanList), context.PartnerCollectionResponse)!.AdditionalData ?? []
            : null;

        return new PolicyDocument
        {
            Default = defaults,
            Partners = partners,
            PartnersEnvelope = envelope,
            AdditionalData = additional,
        };
    }

    /// <summary>Builds the JSON object made of the given members, each the raw bytes of <c>"name": value</c>.</summary>
    private static byte[] JoinAsObject(ReadOnlySpan<byte> json, List<Range> members)
    {
        var documentLength = json.Length;
        var result = new List<byte>(2 + members.Sum(m => m.GetOffsetAndLength(documentLength).Length + 1)) { (byte)'{' };
        for (var i = 0; i < members.Count; i++)
        {
            if (i > 0)
            {
                result.Add((byte)',');
            }

            result.AddRange(json[members[i]]);
        }

        result.Add((byte)'}');
        return [.. result];
    }

    /// <summary>
    /// A document that passed validation: its top level without the partners, parsed (disposed with this), and where its
    /// partner array lies (null when it has none).
    /// </summary>
    private sealed class ValidDocument(JsonDocument topLevel, TopLevelLayout layout, Range? partnerList, int partnerCount) : IDisposable
    {
        public JsonDocument TopLevel { get; } = topLevel;

        public TopLevelLayout Layout { get; } = layout;

        public Range? PartnerList { get; } = partnerList;

        public int PartnerCount { get; } = partnerCount;

        public void Dispose() => TopLevel.Dispose();
    }

    /// <summary>A JSON value found by the first pass: its first token and where its bytes lie.</summary>
    private readonly record struct RawValue(JsonTokenType Token, Range Bytes);

    /// <summary>
    /// Where each top-level property of the document lies, found by one reader pass over every byte, so that
    /// malformed JSON anywhere is reported once, with its line and byte, before anything else is done.
    /// </summary>
    private sealed class TopLevelLayout
    {
        public bool RootIsObject { get; private init; }

        /// <summary>The raw <c>"name": value</c> bytes of every top-level property but <c>partners</c>, in document order.</summary>
        public List<Range> MembersOtherThanPartners { get; } = [];

        /// <summary>The value of <c>partners</c>; when a name repeats, the last one counts, as it does for a DOM lookup.</summary>
        public RawValue? Partners { get; private set; }

        /// <summary>When <c>partners</c> is Graph's list envelope (an object): its <c>value</c>.</summary>
        public RawValue? EnvelopeList { get; private set; }

        /// <summary>When <c>partners</c> is Graph's list envelope: the raw bytes of its other members.</summary>
        public List<Range> EnvelopeMembersOtherThanList { get; } = [];

        public static TopLevelLayout Read(ReadOnlySpan<byte> json)
        {
            var reader = new Utf8JsonReader(json, s_readerOptions);
            reader.Read();
            var layout = new TopLevelLayout { RootIsObject = reader.TokenType == JsonTokenType.StartObject };
            if (!layout.RootIsObject)
            {
                reader.Skip();
            }
            else
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var memberStart = (int)reader.TokenStartIndex;
                    var isPartners = reader.ValueTextEquals("partners"u8);
                    reader.Read();
                    if (isPartners)
                    {
                        layout.RecordPartners(ref reader);
                    }
                    else
                    {
                        reader.Skip();
                        layout.MembersOtherThanPartners.Add(memberStart..(int)reader.BytesConsumed);
                    }
                }
            }

            // Anything but white space and comments after the root makes the reader throw here.
            reader.Read();
            return layout;
        }

        private void RecordPartners(ref Utf8JsonReader reader)
        {
            var start = (int)reader.TokenStartIndex;
            var token = reader.TokenType;
            EnvelopeList = null;
            EnvelopeMembersOtherThanList.Clear();
            if (token != JsonTokenType.StartObject)
            {
                reader.Skip();
            }
            else
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var memberStart = (int)reader.TokenStartIndex;
                    var isList = reader.ValueTextEquals("value"u8);
                    reader.Read();
                    var valueStart = (int)reader.TokenStartIndex;
                    var valueToken = reader.TokenType;
                    reader.Skip();
                    if (isList)
                    {
                        EnvelopeList = new RawValue(valueToken, valueStart..(int)reader.BytesConsumed);
                    }
                    else
                    {
                        EnvelopeMembersOtherThanList.Add(memberStart..(int)reader.BytesConsumed);
                    }
                }
            }

            Partners = new RawValue(token, start..(int)reader.BytesConsumed);
        }
    }

    /// <summary>Validation of the raw JSON, so that type errors and rule errors are reported together.</summary>
    private sealed class DocumentValidator(List<PolicyError> errors, Guid? resourceTenantId)
    {
        private static readonly string[] s_b2bSettings =
            ["b2bDirectConnectInbound", "b2bDirectConnectOutbound", "b2bCollaborationInbound", "b2bCollaborationOutbound"];

        // Each partner tenant seen so far, with the index of the partner that named it first.
        private readonly Dictionary<Guid, string> _seenTenants = [];

        /// <summary>Validates the document's top level; its partners are then given one by one to <see cref="ValidatePartner"/>.</summary>
        public void ValidateDocument(JsonElement root)
        {
            if (root.ValueKind != JsonValueKind.Object)
            {
                Error("$", $"The policy document must be a JSON object with 'default' and 'partners', not {Describe(root)}.");
                return;
            }

            if (root.TryGetProperty("default", out var defaults) && defaults.ValueKind == JsonValueKind.Object)
            {
                ValidateDefault(defaults, "$.default");
            }
            else if (defaults.ValueKind == JsonValueKind.Undefined)
            {
                Error("$.default", "The policy document has no 'default' configuration (crossTenantAccessPolicyConfigurationDefault).");
            }
            else
            {
                Error("$.default", $"'default' must be an object, not {Describe(defaults)}.");
            }
        }

        public void EnvelopeWithoutList(string path)
            => Error(path, "'partners' given as an object must be Graph's list response with a 'value' array.");

        public void PartnersNotAnArray(string path, JsonElement partners)
            => Error(path, $"'partners' must be an array of crossTenantAccessPolicyConfigurationPartner objects, not {Describe(partners)}.");

        /// <summary>Validates one element of the partners array; partners are validated in document order, after the document's top level.</summary>
        public void ValidatePartner(JsonElement element, string path)
        {
            if (element.ValueKind != JsonValueKind.Object)
            {
                Error(path, $"A partner must be an object, not {Describe(element)}.");
                return;
            }

            if (!element.TryGetProperty("tenantId", out var tenant) || tenant.ValueKind == JsonValueKind.Null)
            {
                Error($"{path}.tenantId", "A partner needs a 'tenantId': the partner organisation's tenant ID (a GUID).");
            }
            else if (tenant.ValueKind != JsonValueKind.String || !Guid.TryParse(tenant.GetString(), out var tenantId))
            {
                Error($"{path}.tenantId", $"'tenantId' must be a tenant ID (a GUID), not {Describe(tenant)}.");
            }
            else if (tenantId == Guid.Empty)
            {
                Error($"{path}.tenantId", "'tenantId' cannot be the empty GUID.");
            }
            else if (resourceTenantId == tenantId)
            {
                Error($"{path}.tenantId", $"'tenantId' {tenantId} is the resource tenant itself; an organisation cannot be its own partner.");
            }
            else if (_seenTenants.TryGetValue(tenantId, out var first))
            {
                Error($"{path}.tenantId", $"Tenant {tenantId} is already configured by {first}; each partner tenant may appear once.");
            }
            else
            {
                _seenTenants[tenantId] = path;
            }

            ExpectBoolean(element, "isServiceProvider", path);
            ExpectBoolean(element, "isInMultiTenantOrganization", path);
            ValidateTrust(element, path);

            if (TryGetObject(element, "automaticUserConsentSettings", path, out var consent))
            {
                ExpectBoolean(consent, "inboundAllowed", $"{path}.automaticUserConsentSettings");
                ExpectBoolean(consent, "outboundAllowed", $"{path}.automaticUserConsentSettings");
            }

            foreach (var setting in s_b2bSettings)
            {
                var settingPath = $"{path}.{setting}";
                if (!TryGetObject(element, setting, path, out var b2b))
                {
                    continue;
                }

                var users = ValidateHalf(b2b, "usersAndGroups", settingPath, isUsers: true, defaultInbound: false);
                var apps = ValidateHalf(b2b, "applications", settingPath, isUsers: false, defaultInbound: false);
                CheckConsistency(users, apps, setting.EndsWith("Inbound", StringComparison.Ordinal), settingPath);
            }
        }

        private void ValidateDefault(JsonElement element, string path)
        {
            ExpectBoolean(element, "isServiceDefault", path);
            ValidateTrust(element, path);

            if (TryGetObject(element, "automaticUserConsentSettings", path, out var consent))
            {
                foreach (var name in (ReadOnlySpan<string>)["inboundAllowed", "outboundAllowed"])
                {
                    if (ExpectBoolean(consent, name, $"{path}.automaticUserConsentSettings") is true)
                    {
                        Error($"{path}.automaticUserConsentSettings.{name}", "Automatic user consent cannot be turned on in the default configuration; it is always false there.");
                    }
                }
            }

            foreach (var setting in s_b2bSettings)
            {
                var settingPath = $"{path}.{setting}";
                if (!TryGetObject(element, setting, path, out var b2b))
                {
                    continue;
                }

                var isInbound = setting.EndsWith("Inbound", StringComparison.Ordinal);
                var users = ValidateHalf(b2b, "usersAndGroups", settingPath, isUsers: true, defaultInbound: isInbound);
                var apps = ValidateHalf(b2b, "applications", settingPath, isUsers: false, defaultInbound: false);
                CheckConsistency(users, apps, isInbound, settingPath);
            }
        }

        private void ValidateTrust(JsonElement element, string path)
        {
            if (TryGetObject(element, "inboundTrust", path, out var trust))
            {
                var trustPath = $"{path}.inboundTrust";
                ExpectBoolean(trust, "isMfaAccepted", trustPath);
                ExpectBoolean(trust, "isCompliantDeviceAccepted", trustPath);
                ExpectBoolean(trust, "isHybridAzureADJoinedDeviceAccepted", trustPath);
            }
        }

        /// <summary>Validates one half of a B2B setting; returns its summary, or null when it is absent or invalid.</summary>
        private HalfSummary? ValidateHalf(JsonElement setting, string name, string settingPath, bool isUsers, bool defaultInbound)
        {
            if (!TryGetObject(setting, name, settingPath, out var half))
            {
                return null;
            }

            var path = $"{settingPath}.{name}";
            var valid = true;
            bool? allowed = null;

            if (!half.TryGetProperty("accessType", out var accessType) || accessType.ValueKind == JsonValueKind.Null)
            {
                Error($"{path}.accessType", "'accessType' is required: 'allowed' or 'blocked'.");
                valid = false;
            }
            else if (accessType.ValueKind == JsonValueKind.String && accessType.ValueEquals(PolicyKeywords.Allowed))
            {
                allowed = true;
            }
            else if (accessType.ValueKind == JsonValueKind.String && accessType.ValueEquals(PolicyKeywords.Blocked))
            {
                allowed = false;
            }
            else
            {
                Error($"{path}.accessType", $"'accessType' must be exactly 'allowed' or 'blocked', not {Describe(accessType)}.");
                valid = false;
            }

            var hasAll = false;
            if (!half.TryGetProperty("targets", out var targets) || targets.ValueKind == JsonValueKind.Null)
            {
                Error($"{path}.targets", "'targets' is required and must list at least one target.");
                valid = false;
            }
            else if (targets.ValueKind != JsonValueKind.Array)
            {
                Error($"{path}.targets", $"'targets' must be an array, not {Describe(targets)}.");
                valid = false;
            }
            else if (targets.GetArrayLength() == 0)
            {
                Error($"{path}.targets", "'targets' cannot be empty: list at least one target.");
                valid = false;
            }
            else
            {
                var index = 0;
                foreach (var target in targets.EnumerateArray())
                {
                    var targetPath = $"{path}.targets[{index++}]";
                    switch (ValidateTarget(target, targetPath, isUsers))
                    {
                        case TargetKind.Invalid:
                            valid = false;
                            break;
                        case TargetKind.AllKeyword:
                            hasAll = true;
                            break;
                        case TargetKind.Specific when defaultInbound:
                            Error(targetPath, "The default inbound settings cannot target specific users or groups, only 'AllUsers'; configure a partner to target users or groups.");
                            valid = false;
                            break;
                    }
                }
            }

            return valid && allowed is { } isAllowed ? new HalfSummary(isAllowed, hasAll) : null;
        }

        private TargetKind ValidateTarget(JsonElement target, string path, bool isUsers)
        {
            if (target.ValueKind != JsonValueKind.Object)
            {
                Error(path, $"A target must be an object with 'target' and 'targetType', not {Describe(target)}.");
                return TargetKind.Invalid;
            }

            string? type = null;
            if (!target.TryGetProperty("targetType", out var typeElement) || typeElement.ValueKind != JsonValueKind.String)
            {
                Error($"{path}.targetType", isUsers
                    ? $"'targetType' is required inside usersAndGroups: 'user' or 'group'{Instead(typeElement)}."
                    : $"'targetType' is required inside applications: 'application'{Instead(typeElement)}.");
            }
            else
            {
                type = typeElement.GetString();
                var fits = isUsers
                    ? type is PolicyKeywords.TargetTypeUser or PolicyKeywords.TargetTypeGroup
                    : type is PolicyKeywords.TargetTypeApplication;
                if (!fits)
                {
                    Error($"{path}.targetType", isUsers
                        ? $"'targetType' inside usersAndGroups must be 'user' or 'group', not '{type}'."
                        : $"'targetType' inside applications must be 'application', not '{type}'.");
                    type = null;
                }
            }

            if (!target.TryGetProperty("target", out var valueElement) || valueElement.ValueKind != JsonValueKind.String)
            {
                Error($"{path}.target", $"'target' is required: an object ID, an application ID or a keyword{Instead(valueElement)}.");
                return TargetKind.Invalid;
            }

            if (type is null)
            {
                return TargetKind.Invalid;
            }

            var value = valueElement.GetString()!;
            if (Guid.TryParse(value, out var id))
            {
                if (id == Guid.Empty)
                {
                    Error($"{path}.target", "'target' cannot be the empty GUID.");
                    return TargetKind.Invalid;
                }

                return TargetKind.Specific;
            }

            switch (type)
            {
                case PolicyKeywords.TargetTypeUser when value == PolicyKeywords.AllUsers:
                    return TargetKind.AllKeyword;
                case PolicyKeywords.TargetTypeApplication when value == PolicyKeywords.AllApplications:
                    return TargetKind.AllKeyword;
                case PolicyKeywords.TargetTypeApplication when value is PolicyKeywords.AllMicrosoftApps or PolicyKeywords.Office365:
                    return TargetKind.Specific;
                case PolicyKeywords.TargetTypeUser:
                    Error($"{path}.target", $"A 'user' target must be a user object ID (a GUID) or 'AllUsers', not '{value}'.");
                    return TargetKind.Invalid;
                case PolicyKeywords.TargetTypeGroup:
                    Error($"{path}.target", $"A 'group' target must be a group object ID (a GUID), not '{value}'.");
                    return TargetKind.Invalid;
                default:
                    Error($"{path}.target", $"An 'application' target must be an application (client) ID (a GUID), 'AllApplications', 'AllMicrosoftApps' or 'Office365', not '{value}'.");
                    return TargetKind.Invalid;
            }
        }

        /// <summary>
        /// Judged on the two halves given together in one setting; a half left out (inherited) or invalid (unknown, null)
        /// is not judged. Graph itself accepts a setting that gives one half, whatever the half it inherits: its own
        /// example of creating a partner gives inbound 'applications' alone, under a default that blocks 'AllUsers', and
        /// an export holding such a partner must load. The decision reads the effective pair and fails closed on it.
        /// </summary>
        private void CheckConsistency(HalfSummary? users, HalfSummary? apps, bool inbound, string path)
        {
            if (users is not { } u || apps is not { } a)
            {
                return;
            }

            if (inbound && !u.Allowed && u.TargetsAll && !(!a.Allowed && a.TargetsAll))
            {
                Error(path, "Inbound 'usersAndGroups' blocked for 'AllUsers' requires 'applications' blocked for 'AllApplications'.");
            }

            if (!inbound && u.Allowed && !a.Allowed && a.TargetsAll)
            {
                Error(path, "Outbound 'usersAndGroups' allowed cannot be combined with 'applications' blocked for 'AllApplications'.");
            }
        }

        private bool? ExpectBoolean(JsonElement parent, string name, string path)
        {
            if (!parent.TryGetProperty(name, out var value))
            {
                return null;
            }

            switch (value.ValueKind)
            {
                case JsonValueKind.True:
                    return true;
                case JsonValueKind.False:
                    return false;
                case JsonValueKind.Null:
                    return null;
                default:
                    Error($"{path}.{name}", $"'{name}' must be true, false or null, not {Describe(value)}.");
                    return null;
            }
        }

        private bool TryGetObject(JsonElement parent, string name, string path, out JsonElement value)
        {
            if (!parent.TryGetProperty(name, out value) || value.ValueKind == JsonValueKind.Null)
            {
                return false;
            }

            if (value.ValueKind != JsonValueKind.Object)
            {
                Error($"{path}.{name}", $"'{name}' must be an object or null, not {Describe(value)}.");
                return false;
            }

            return true;
        }

        private void Error(string path, string message) => errors.Add(new PolicyError(path, message));

        private static string Describe(JsonElement value) => value.ValueKind switch
        {
            JsonValueKind.Undefined => "missing",
            JsonValueKind.Null => "null",
            JsonValueKind.String => $"the string '{Truncate(value.GetString()!)}'",
            JsonValueKind.Number => $"the number {Truncate(value.GetRawText())}",
            JsonValueKind.True or JsonValueKind.False => $"the boolean {value.GetRawText()}",
            JsonValueKind.Array => "an array",
            _ => "an object",
        };

        /// <summary>", not the number 7" for a value of the wrong kind; nothing for a missing one (the message says it is required).</summary>
        private static string Instead(JsonElement value) => value.ValueKind == JsonValueKind.Undefined ? string.Empty : $", not {Describe(value)}";

        private static string Truncate(string text) => text.Length <= 64 ? text : string.Concat(text.AsSpan(0, 61), "...");

        private enum TargetKind
        {
            Invalid,
            AllKeyword,
            Specific,
        }

        private readonly record struct HalfSummary(bool Allowed, bool TargetsAll);
    }
}
