using System.Text;
using System.Text.Json.Nodes;
using XtacGateway.Policy.Validation;
using static XtacGateway.Policy.Tests.PolicyJson;

namespace XtacGateway.Policy.Tests.Validation;

/// <summary>Domain rules section 7: every rule produces an error at its exact JSON path; nothing else does.</summary>
public sealed class PolicyParserTests
{
    private const string SecondPartnerInbound = "$.partners[1].b2bDirectConnectInbound";

    [Fact]
    public void Parse_ValidDocument_ReturnsDocumentWithoutErrors()
    {
        var result = Parse(ValidDocument());

        Assert.True(result.IsValid);
        Assert.Empty(result.Errors);
        Assert.NotNull(result.Document);
        Assert.Equal(2, result.Document.Partners.Count);
        Assert.Equal(Ids.OtherPartnerTenant.ToString(), result.Document.Partners[1].TenantId);
    }

    [Fact]
    public void Parse_ServiceDefaultWithoutPartners_Valid()
    {
        var result = Parse(new JsonObject { ["default"] = ServiceDefault() });

        Assert.True(result.IsValid, string.Join("; ", result.Errors));
        Assert.Empty(result.Document!.Partners);
    }

    [Theory]
    [InlineData("usersAndGroups", "Allowed")]
    [InlineData("usersAndGroups", "allow")]
    [InlineData("applications", "BLOCKED")]
    [InlineData("applications", "")]
    public void Parse_AccessTypeNotAllowedOrBlocked_ErrorAtAccessType(string half, string accessType)
    {
        var document = ValidDocument();
        document["partners"]![1]!["b2bDirectConnectInbound"]![half]!["accessType"] = accessType;

        AssertSingleError(document, $"{SecondPartnerInbound}.{half}.accessType");
    }

    [Fact]
    public void Parse_AccessTypeNotAString_ErrorAtAccessType()
    {
        var document = ValidDocument();
        document["partners"]![1]!["b2bDirectConnectInbound"]!["usersAndGroups"]!["accessType"] = true;

        AssertSingleError(document, $"{SecondPartnerInbound}.usersAndGroups.accessType");
    }

    [Fact]
    public void Parse_AccessTypeMissing_ErrorAtAccessType()
    {
        var document = ValidDocument();
        document["partners"]![0]!["b2bDirectConnectInbound"]!["applications"]!.AsObject().Remove("accessType");

        AssertSingleError(document, "$.partners[0].b2bDirectConnectInbound.applications.accessType");
    }

    [Theory]
    [InlineData("usersAndGroups", "application")]
    [InlineData("usersAndGroups", "User")]
    [InlineData("applications", "user")]
    [InlineData("applications", "group")]
    public void Parse_TargetTypeNotFittingItsHalf_ErrorAtTargetType(string half, string targetType)
    {
        var document = ValidDocument();
        document["partners"]![1]!["b2bDirectConnectInbound"]![half]!["targets"]![0]!["targetType"] = targetType;

        AssertSingleError(document, $"{SecondPartnerInbound}.{half}.targets[0].targetType");
    }

    [Theory]
    [InlineData("usersAndGroups", "user", "AllApplications")]
    [InlineData("usersAndGroups", "user", "not-a-guid")]
    [InlineData("usersAndGroups", "group", "AllUsers")]
    [InlineData("usersAndGroups", "group", "Office365")]
    [InlineData("applications", "application", "AllUsers")]
    [InlineData("applications", "application", "12345")]
    [InlineData("applications", "application", "00000000-0000-0000-0000-000000000000")]
    public void Parse_TargetNotGuidOrKeywordOfItsType_ErrorAtTarget(string half, string targetType, string target)
    {
        var document = ValidDocument();
        document["partners"]![1]!["b2bDirectConnectInbound"]![half]!["targets"]![0] = Target(target, targetType);

        AssertSingleError(document, $"{SecondPartnerInbound}.{half}.targets[0].target");
    }

    [Theory]
    [InlineData("usersAndGroups", "user", "AllUsers")]
    [InlineData("applications", "application", "AllApplications")]
    [InlineData("applications", "application", "AllMicrosoftApps")]
    [InlineData("applications", "application", "Office365")]
    public void Parse_KeywordOfItsType_Valid(string half, string targetType, string target)
    {
        var document = ValidDocument();
        document["partners"]![1]!["b2bDirectConnectInbound"]![half]!["targets"]![0] = Target(target, targetType);

        Assert.True(Parse(document).IsValid);
    }

    [Fact]
    public void Parse_TargetMissingFields_ErrorsAtTargetAndTargetType()
    {
        var document = ValidDocument();
        document["partners"]![0]!["b2bDirectConnectInbound"]!["usersAndGroups"]!["targets"]![0] = new JsonObject();

        var errors = AssertInvalid(document);

        Assert.Equal(
            ["$.partners[0].b2bDirectConnectInbound.usersAndGroups.targets[0].targetType", "$.partners[0].b2bDirectConnectInbound.usersAndGroups.targets[0].target"],
            errors.Select(e => e.Path));
        // Missing, not "not missing".
        Assert.Equal("'targetType' is required inside usersAndGroups: 'user' or 'group'.", errors[0].Message);
    }

    [Fact]
    public void Parse_EmptyTargets_ErrorAtTargets()
    {
        var document = ValidDocument();
        document["partners"]![0]!["b2bDirectConnectInbound"]!["applications"]!["targets"] = new JsonArray();

        AssertSingleError(document, "$.partners[0].b2bDirectConnectInbound.applications.targets");
    }

    [Fact]
    public void Parse_DefaultDirectConnectInboundTargetsSpecificGroup_ErrorAtThatTarget()
    {
        var document = ValidDocument();
        document["default"]!["b2bDirectConnectInbound"] = Setting(Allowed(AllUsers(), Group(Ids.G1)), Blocked(AllApplications()));

        AssertSingleError(document, "$.default.b2bDirectConnectInbound.usersAndGroups.targets[1]");
    }

    [Fact]
    public void Parse_DefaultCollaborationInboundTargetsSpecificUser_ErrorAtThatTarget()
    {
        var document = ValidDocument();
        document["default"]!["b2bCollaborationInbound"] = Setting(Allowed(User(Ids.U1)), Allowed(AllApplications()));

        AssertSingleError(document, "$.default.b2bCollaborationInbound.usersAndGroups.targets[0]");
    }

    [Fact]
    public void Parse_DefaultOutboundOrSpecificApplicationTargets_Valid()
    {
        var document = ValidDocument();
        document["default"]!["b2bDirectConnectOutbound"] = Setting(Allowed(Group(Ids.G1)), Allowed(AllApplications()));
        document["default"]!["b2bDirectConnectInbound"] = Setting(Allowed(AllUsers()), Allowed(App(Ids.A1)));

        Assert.True(Parse(document).IsValid, string.Join("; ", Parse(document).Errors));
    }

    [Fact]
    public void Parse_PartnerInboundUsersBlockedAllUsersWithAppsNotBlockedAll_ErrorAtSetting()
    {
        var document = ValidDocument();
        document["partners"]![1]!["b2bDirectConnectInbound"] = Setting(Blocked(AllUsers()), Blocked(App(Ids.A1)));

        AssertSingleError(document, SecondPartnerInbound);
    }

    [Fact]
    public void Parse_DefaultInboundUsersBlockedAllUsersWithAppsAllowed_ErrorAtSetting()
    {
        var document = ValidDocument();
        document["default"]!["b2bCollaborationInbound"] = Setting(Blocked(AllUsers()), Allowed(AllApplications()));

        AssertSingleError(document, "$.default.b2bCollaborationInbound");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Parse_PartnerGivingOneHalf_ConsistencyNotJudgedWithTheInheritedHalf(bool defaultAllowsAll)
    {
        // Against a default allowing AllApplications, blocking AllUsers alone would conflict with the inherited half, and
        // against the service default (blocked for all), allowing an app alone would; Graph accepts both as given.
        var document = ValidDocument();
        document["default"] = defaultAllowsAll ? Default(AllowAll()) : Default(BlockAll());
        document["partners"]![0]!["b2bDirectConnectInbound"] = defaultAllowsAll
            ? Setting(Blocked(AllUsers()), applications: null)
            : Setting(usersAndGroups: null, Allowed(App(Ids.A1)));

        ParseValid(document);
    }

    [Fact]
    public void Parse_GraphCreatePartnerExample_Valid()
    {
        // The body of Graph's own example of POST /policies/crossTenantAccessPolicy/partners, under the service default.
        var document = JsonNode.Parse("""
            {
              "default": { "isServiceDefault": true },
              "partners": [
                {
                  "tenantId": "3d0f5dec-5d3d-455c-8016-e2af1ae4d31a",
                  "b2bDirectConnectOutbound": {
                    "usersAndGroups": { "accessType": "allowed", "targets": [ { "target": "6f546279-4da5-4b53-a095-09ea0cef9971", "targetType": "group" } ] }
                  },
                  "b2bDirectConnectInbound": {
                    "applications": { "accessType": "allowed", "targets": [ { "target": "Office365", "targetType": "application" } ] }
                  }
                }
              ]
            }
            """)!.AsObject();

        ParseValid(document);
    }

    [Fact]
    public void Parse_DefaultOutboundUsersAllowedWithAppsBlockedAll_ErrorAtSetting()
    {
        var document = ValidDocument();
        document["default"]!["b2bDirectConnectOutbound"] = Setting(Allowed(AllUsers()), Blocked(AllApplications()));

        AssertSingleError(document, "$.default.b2bDirectConnectOutbound");
    }

    [Fact]
    public void Parse_PartnerOutboundUsersAllowedWithAppsBlockedAll_ErrorAtSetting()
    {
        var document = ValidDocument();
        document["partners"]![1]!["b2bCollaborationOutbound"] = Setting(Allowed(Group(Ids.G1)), Blocked(AllApplications()));

        AssertSingleError(document, "$.partners[1].b2bCollaborationOutbound");
    }

    [Theory]
    [InlineData("contoso.onmicrosoft.com")]
    [InlineData("")]
    [InlineData("00000000-0000-0000-0000-000000000000")]
    public void Parse_PartnerTenantIdNotAGuid_ErrorAtTenantId(string tenantId)
    {
        var document = ValidDocument();
        document["partners"]![1]!["tenantId"] = tenantId;

        AssertSingleError(document, "$.partners[1].tenantId");
    }

    [Fact]
    public void Parse_PartnerTenantIdMissing_ErrorAtTenantId()
    {
        var document = ValidDocument();
        document["partners"]![0]!.AsObject().Remove("tenantId");

        AssertSingleError(document, "$.partners[0].tenantId");
    }

    [Fact]
    public void Parse_DuplicatePartnerTenantId_ErrorAtSecondOccurrence()
    {
        var document = ValidDocument();
        // Same GUID, written differently.
        document["partners"]![1]!["tenantId"] = Ids.PartnerTenant.ToString().ToUpperInvariant();

        var error = AssertSingleError(document, "$.partners[1].tenantId");
        Assert.Contains("already configured by $.partners[0];", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_PartnerIsResourceTenant_ErrorAtTenantId()
    {
        var document = ValidDocument();
        document["partners"]![1]!["tenantId"] = Ids.ResourceTenant.ToString();

        AssertSingleError(document, "$.partners[1].tenantId");
        Assert.True(PolicyParser.Parse(document.ToJsonString(), resourceTenantId: null).IsValid);
    }

    [Theory]
    [InlineData("inboundAllowed")]
    [InlineData("outboundAllowed")]
    public void Parse_DefaultAutomaticUserConsentTrue_ErrorAtFlag(string flag)
    {
        var document = ValidDocument();
        document["default"]!["automaticUserConsentSettings"]![flag] = true;

        AssertSingleError(document, $"$.default.automaticUserConsentSettings.{flag}");
    }

    [Fact]
    public void Parse_PartnerAutomaticUserConsentTrue_Valid()
    {
        var document = ValidDocument();
        document["partners"]![0]!["automaticUserConsentSettings"] = new JsonObject { ["inboundAllowed"] = true, ["outboundAllowed"] = true };

        Assert.True(Parse(document).IsValid);
    }

    [Fact]
    public void Parse_IsMfaAcceptedAString_ErrorAtFlag()
    {
        var document = ValidDocument();
        document["default"]!["inboundTrust"]!["isMfaAccepted"] = "yes";

        AssertSingleError(document, "$.default.inboundTrust.isMfaAccepted");
    }

    [Theory]
    [InlineData("$.partners[0].isServiceProvider", "isServiceProvider", "\"no\"")]
    [InlineData("$.partners[0].isInMultiTenantOrganization", "isInMultiTenantOrganization", "1")]
    [InlineData("$.partners[0].inboundTrust", "inboundTrust", "true")]
    [InlineData("$.partners[0].b2bDirectConnectInbound", "b2bDirectConnectInbound", "[]")]
    [InlineData("$.partners[0].tenantId", "tenantId", "42")]
    public void Parse_PartnerPropertyOfWrongJsonType_ErrorAtProperty(string path, string property, string json)
    {
        var document = ValidDocument();
        document["partners"]![0]![property] = JsonNode.Parse(json);

        AssertSingleError(document, path);
    }

    [Fact]
    public void Parse_PartnerTrustFlagOfWrongJsonType_ErrorAtFlag()
    {
        var document = ValidDocument();
        document["partners"]![1]!["inboundTrust"] = new JsonObject { ["isCompliantDeviceAccepted"] = "true", ["isMfaAccepted"] = null };

        AssertSingleError(document, "$.partners[1].inboundTrust.isCompliantDeviceAccepted");
    }

    [Fact]
    public void Parse_TargetsNotAnArray_ErrorAtTargets()
    {
        var document = ValidDocument();
        document["partners"]![0]!["b2bDirectConnectInbound"]!["usersAndGroups"]!["targets"] = Group(Ids.G1);

        AssertSingleError(document, "$.partners[0].b2bDirectConnectInbound.usersAndGroups.targets");
    }

    [Fact]
    public void Parse_DefaultMissing_ErrorAtDefault()
    {
        var document = ValidDocument();
        document.Remove("default");

        AssertSingleError(document, "$.default");
    }

    [Fact]
    public void Parse_ErrorInsideGraphListEnvelope_PathThroughValue()
    {
        var document = ValidDocument();
        var partners = document["partners"]!.DeepClone();
        partners[1]!["tenantId"] = "not-a-guid";
        document["partners"] = new JsonObject { ["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#partners", ["value"] = partners };

        AssertSingleError(document, "$.partners.value[1].tenantId");
    }

    [Fact]
    public void Parse_SeveralErrors_ReportsEveryOne()
    {
        var document = ValidDocument();
        document["default"]!["inboundTrust"]!["isMfaAccepted"] = "yes";
        document["default"]!["automaticUserConsentSettings"]!["inboundAllowed"] = true;
        document["default"]!["b2bCollaborationInbound"]!["usersAndGroups"]!["targets"]![0] = User(Ids.U1);
        document["partners"]![0]!["tenantId"] = "contoso";
        document["partners"]![0]!["b2bDirectConnectInbound"]!["usersAndGroups"]!["accessType"] = "permitted";
        document["partners"]![0]!["b2bDirectConnectInbound"]!["applications"]!["targets"] = new JsonArray();
        document["partners"]![1]!["b2bDirectConnectInbound"]!["usersAndGroups"]!["targets"]![1]!["targetType"] = "application";
        document["partners"]![1]!["b2bDirectConnectOutbound"] = Setting(Allowed(AllUsers()), Blocked(AllApplications()));
        document["partners"]!.AsArray().Add(Partner(Ids.OtherPartnerTenant));

        var errors = AssertInvalid(document);

        string[] expected =
        [
            "$.default.inboundTrust.isMfaAccepted",
            "$.default.automaticUserConsentSettings.inboundAllowed",
            "$.default.b2bCollaborationInbound.usersAndGroups.targets[0]",
            "$.partners[0].tenantId",
            "$.partners[0].b2bDirectConnectInbound.usersAndGroups.accessType",
            "$.partners[0].b2bDirectConnectInbound.applications.targets",
            "$.partners[1].b2bDirectConnectInbound.usersAndGroups.targets[1].targetType",
            "$.partners[1].b2bDirectConnectOutbound",
            "$.partners[2].tenantId",
        ];
        Assert.Equal(9, errors.Count);
        Assert.Equal(expected.Order(StringComparer.Ordinal), errors.Select(e => e.Path).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Parse_InvalidTargetInAllowedHalf_NoSpuriousConsistencyError()
    {
        // Direct connect inbound is blocked for AllUsers by default; this partner allows one group, misspelt.
        var document = Document(
            ServiceDefault(),
            Partner(Ids.PartnerTenant, Setting(Allowed(Target("not-a-group-id", "group")), Allowed(App(Ids.A1)))));

        var errors = AssertInvalid(document);

        // Only the bad target is wrong; the setting allows users, so the blocked-AllUsers consistency rule cannot apply.
        Assert.Equal(["$.partners[0].b2bDirectConnectInbound.usersAndGroups.targets[0].target"], errors.Select(e => e.Path));
    }

    [Fact]
    public void Parse_MalformedJson_ReportsLineAndByte()
    {
        const string json = "{\n  \"default\": {},\n  \"partners\": [ , ]\n}\n";

        var result = PolicyParser.Parse(json, Ids.ResourceTenant);

        Assert.False(result.IsValid);
        Assert.Null(result.Document);
        var error = Assert.Single(result.Errors);
        Assert.Equal("$", error.Path);
        // The stray comma is the 17th byte of line 3.
        Assert.StartsWith("Malformed JSON at line 3, byte 17:", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tenantId")]
    [InlineData("unknownProperty")]
    public void Parse_BytesNotUtf8InsideAString_ErrorAtRootWithLineAndByte(string property)
    {
        // JSON's reader checks a string's bytes only when it is read: the document must be refused as such, whether or
        // not a rule reads that string, never with an exception at first use.
        var document = Encoding.UTF8.GetBytes($"{{\n  \"partners\": [\n    {{ \"{property}\": \"ab\u00FF\" }}\n  ]\n}}\n");
        var bad = document.AsSpan().IndexOf(Encoding.UTF8.GetBytes("\u00FF"));
        document[bad] = 0xC3;
        document[bad + 1] = 0x28;

        var result = PolicyParser.Parse(document, Ids.ResourceTenant);

        Assert.False(result.IsValid);
        var error = Assert.Single(result.Errors);
        Assert.Equal("$", error.Path);
        Assert.Equal($"Not UTF-8 at line 3, byte {14 + property.Length}: JSON text must be UTF-8.", error.Message);
    }

    [Theory]
    [InlineData("{ \"tenantId\": \"\\ud800\" }", "\\ud800", 20)]
    [InlineData("{ \"\\ud800x\": 1 }", "\\ud800", 8)]
    [InlineData("{ \"note\": \"ok \\udc00\" }", "\\udc00", 19)]
    [InlineData("{ \"note\": \"\\ud800\\u0041\" }", "\\ud800", 16)]
    public void Parse_EscapeOfHalfASurrogatePair_ErrorAtRootWithLineAndByte(string partner, string escape, int column)
    {
        // Valid JSON syntax, but no text: System.Text.Json throws when it reads such a string, which must be an error of
        // the document instead, whether or not a rule reads that string.
        var result = PolicyParser.Parse($"{{\n  \"partners\": [\n    {partner}\n  ]\n}}\n", Ids.ResourceTenant);

        Assert.False(result.IsValid);
        var error = Assert.Single(result.Errors);
        Assert.Equal("$", error.Path);
        Assert.Equal($"Not Unicode text at line 3, byte {column}: '{escape}' escapes half of a UTF-16 surrogate pair.", error.Message);
    }

    [Theory]
    [InlineData("\\ud83d\\ude00")]
    [InlineData("\\\\ud800")]
    [InlineData("\\u00e9\\\"\\\\")]
    public void Parse_WholeSurrogatePairOrEscapedBackslash_Valid(string note)
    {
        var document = ValidDocument();
        var result = PolicyParser.Parse(document.ToJsonString().Replace("\"partners\":[{", $"\"partners\":[{{\"note\":\"{note}\",", StringComparison.Ordinal), Ids.ResourceTenant);

        Assert.True(result.IsValid, string.Join("; ", result.Errors));
    }

    [Theory]
    [InlineData("\n// C:\\policies\\")]
    [InlineData("\n/* the escape \\ud83d alone */")]
    [InlineData("\n// \\ud800")]
    public void Parse_CommentHoldingBackslashOrEscapeText_Valid(string comment)
    {
        // Comments are no strings: what they hold is not escaped text, even at the very end of the document.
        var result = PolicyParser.Parse(ValidDocument().ToJsonString() + comment, Ids.ResourceTenant);

        Assert.True(result.IsValid, string.Join("; ", result.Errors));
    }

    [Fact]
    public void Parse_RootNotAnObject_ErrorAtRoot()
    {
        var result = PolicyParser.Parse("[]", Ids.ResourceTenant);

        Assert.Equal("$", Assert.Single(result.Errors).Path);
    }

    private static JsonObject ValidDocument() => Document(
        Default(AllowAll()),
        Partner(Ids.PartnerTenant, Setting(Allowed(Group(Ids.G1)), Allowed(App(Ids.A1)))),
        Partner(Ids.OtherPartnerTenant, Setting(Blocked(User(Ids.U1), Group(Ids.G2)), Blocked(App(Ids.A2), AllApplications())), Trust(true, null, false)));

    private static IReadOnlyList<PolicyError> AssertInvalid(JsonNode document)
    {
        var result = Parse(document);

        Assert.False(result.IsValid);
        Assert.Null(result.Document);
        Assert.All(result.Errors, e => Assert.False(string.IsNullOrWhiteSpace(e.Message)));
        return result.Errors;
    }

    private static PolicyError AssertSingleError(JsonNode document, string expectedPath)
    {
        var errors = AssertInvalid(document);
        var error = Assert.Single(errors);
        Assert.Equal(expectedPath, error.Path);
        return error;
    }
}
