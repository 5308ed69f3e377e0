using System.Buffers;
using System.Text;
using System.Text.Json;
using XtacGateway.Policy.Model;

namespace XtacGateway.Policy.Validation;

/// <summary>
/// Reads and validates a policy document. Every rule of the schema is checked in one pass and every
/// error is collected with its JSON path; a document with any error is rejected whole.
/// </summary>
public static class PolicyParser
{
    private static readonly JsonDocumentOptions s_documentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = false,
        MaxDepth = 64,
    };

    /// <summary>Parses and validates a UTF-8 policy document.</summary>
    /// <param name="utf8Json">The document.</param>
    /// <param name="resourceTenantId">The organisation the policy protects; when given, no partner may name it.</param>
    public static PolicyParseResult Parse(ReadOnlyMemory<byte> utf8Json, Guid? resourceTenantId = null)
    {
        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(utf8Json, s_documentOptions);
        }
        catch (JsonException ex)
        {
            return PolicyParseResult.Failure([MalformedJsonError(ex)]);
        }

        using (json)
        {
            var errors = new List<PolicyError>();
            new DocumentValidator(errors, resourceTenantId).ValidateDocument(json.RootElement);
            if (errors.Count > 0)
            {
                return PolicyParseResult.Failure(errors);
            }

            return PolicyParseResult.Success(Materialize(json.RootElement));
        }
    }

    /// <summary>Parses and validates a policy document given as text.</summary>
    public static PolicyParseResult Parse(string json, Guid? resourceTenantId = null)
        => Parse(Encoding.UTF8.GetBytes(json), resourceTenantId);

    /// <summary>Validates a document built in memory (for example by an admin change) by the same rules as a file.</summary>
    public static PolicyParseResult Validate(PolicyDocument document, Guid? resourceTenantId = null)
        => Parse(PolicyWriter.WriteUtf8(document), resourceTenantId);

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

    private static PolicyDocument Materialize(JsonElement root)
    {
        var context = PolicyJsonContext.Default;
        var defaults = root.GetProperty("default").Deserialize(context.CrossTenantAccessPolicyConfigurationDefault);

        IReadOnlyList<CrossTenantAccessPolicyConfigurationPartner> partners = [];
        IReadOnlyDictionary<string, JsonElement>? envelope = null;
        Dictionary<string, JsonElement>? additional = null;

        foreach (var property in root.EnumerateObject())
        {
            switch (property.Name)
            {
                case "default":
                    break;
                case "partners" when property.Value.ValueKind == JsonValueKind.Array:
                    partners = property.Value.Deserialize(context.IReadOnlyListCrossTenantAccessPolicyConfigurationPartner) ?? [];
                    break;
                case "partners" when property.Value.ValueKind == JsonValueKind.Object:
                    var response = property.Value.Deserialize(context.PartnerCollectionResponse)!;
                    partners = response.Value;
                    envelope = response.AdditionalData ?? [];
                    break;
                case "partners":
                    break;
                default:
                    (additional ??= [])[property.Name] = property.Value.Clone();
                    break;
            }
        }

        return new PolicyDocument
        {
            Default = defaults,
            Partners = partners,
            PartnersEnvelope = envelope,
            AdditionalData = additional,
        };
    }

    /// <summary>One validation pass over the raw JSON, so that type errors and rule errors are reported together.</summary>
    private sealed class DocumentValidator(List<PolicyError> errors, Guid? resourceTenantId)
    {
        private static readonly string[] s_b2bSettings =
            ["b2bDirectConnectInbound", "b2bDirectConnectOutbound", "b2bCollaborationInbound", "b2bCollaborationOutbound"];

        // The default's halves, after falling back to the service default, used to check partners' inherited halves.
        private readonly Dictionary<string, (HalfSummary? Users, HalfSummary? Apps)> _defaultHalves = new(StringComparer.Ordinal);

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

            foreach (var setting in s_b2bSettings)
            {
                if (!_defaultHalves.ContainsKey(setting))
                {
                    _defaultHalves[setting] = ServiceDefaultHalves(setting);
                }
            }

            if (root.TryGetProperty("partners", out var partners))
            {
                ValidatePartners(partners);
            }
        }

        private void ValidatePartners(JsonElement partners)
        {
            var path = "$.partners";
            if (partners.ValueKind == JsonValueKind.Object)
            {
                if (!partners.TryGetProperty("value", out var value))
                {
                    Error(path, "'partners' given as an object must be Graph's list response with a 'value' array.");
                    return;
                }

                partners = value;
                path = "$.partners.value";
            }

            if (partners.ValueKind == JsonValueKind.Null)
            {
                return;
            }

            if (partners.ValueKind != JsonValueKind.Array)
            {
                Error(path, $"'partners' must be an array of crossTenantAccessPolicyConfigurationPartner objects, not {Describe(partners)}.");
                return;
            }

            var seen = new Dictionary<Guid, int>();
            var index = 0;
            foreach (var partner in partners.EnumerateArray())
            {
                var partnerPath = $"{path}[{index}]";
                if (partner.ValueKind != JsonValueKind.Object)
                {
                    Error(partnerPath, $"A partner must be an object, not {Describe(partner)}.");
                }
                else
                {
                    ValidatePartner(partner, partnerPath, index, seen);
                }

                index++;
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
                var service = ServiceDefaultHalves(setting);
                if (!TryGetObject(element, setting, path, out var b2b))
                {
                    _defaultHalves[setting] = service;
                    continue;
                }

                var isInbound = setting.EndsWith("Inbound", StringComparison.Ordinal);
                var users = Effective(ValidateHalf(b2b, "usersAndGroups", settingPath, isUsers: true, defaultInbound: isInbound, out var usersPresent), usersPresent, service.Users);
                var apps = Effective(ValidateHalf(b2b, "applications", settingPath, isUsers: false, defaultInbound: false, out var appsPresent), appsPresent, service.Apps);
                _defaultHalves[setting] = (users, apps);
                CheckConsistency(users, apps, isInbound, settingPath);
            }
        }

        private void ValidatePartner(JsonElement element, string path, int index, Dictionary<Guid, int> seen)
        {
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
            else if (seen.TryGetValue(tenantId, out var first))
            {
                Error($"{path}.tenantId", $"Tenant {tenantId} is already configured by $.partners[{first}]; each partner tenant may appear once.");
            }
            else
            {
                seen[tenantId] = index;
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

                // A half left out is inherited from the default, so consistency is judged on the effective pair.
                var inherited = _defaultHalves[setting];
                var users = Effective(ValidateHalf(b2b, "usersAndGroups", settingPath, isUsers: true, defaultInbound: false, out var usersPresent), usersPresent, inherited.Users);
                var apps = Effective(ValidateHalf(b2b, "applications", settingPath, isUsers: false, defaultInbound: false, out var appsPresent), appsPresent, inherited.Apps);
                CheckConsistency(users, apps, setting.EndsWith("Inbound", StringComparison.Ordinal), settingPath);
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

        /// <summary>A half left out is inherited; a half given but invalid is unknown (null), so no rule is judged on a guess.</summary>
        private static HalfSummary? Effective(HalfSummary? given, bool present, HalfSummary? inherited) => present ? given : inherited;

        /// <summary>Validates one half of a B2B setting; returns its summary, or null when it is absent or invalid (<paramref name="present"/> tells which).</summary>
        private HalfSummary? ValidateHalf(JsonElement setting, string name, string settingPath, bool isUsers, bool defaultInbound, out bool present)
        {
            present = setting.TryGetProperty(name, out var given) && given.ValueKind != JsonValueKind.Null;
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
                    ? $"'targetType' is required inside usersAndGroups: 'user' or 'group', not {Describe(typeElement)}."
                    : $"'targetType' is required inside applications: 'application', not {Describe(typeElement)}.");
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
                Error($"{path}.target", $"'target' is required: an object ID, an application ID or a keyword, not {Describe(valueElement)}.");
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

        private static (HalfSummary? Users, HalfSummary? Apps) ServiceDefaultHalves(string setting)
            => setting.StartsWith("b2bDirectConnect", StringComparison.Ordinal)
                ? (new HalfSummary(false, true), new HalfSummary(false, true))
                : (new HalfSummary(true, true), new HalfSummary(true, true));

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
