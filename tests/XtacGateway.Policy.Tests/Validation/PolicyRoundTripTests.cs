using System.Text.Json.Nodes;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Evaluation;
using XtacGateway.Policy.Model;
using XtacGateway.Policy.Validation;

namespace XtacGateway.Policy.Tests.Validation;

/// <summary>Domain rules section 2: unknown properties are accepted and kept; Graph's list envelope is accepted and kept.</summary>
public sealed class PolicyRoundTripTests
{
    private const string GraphExport = """
        {
          "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#policies/crossTenantAccessPolicy",
          "displayName": "CrossTenantAccessPolicy",
          "default": {
            "@odata.type": "#microsoft.graph.crossTenantAccessPolicyConfigurationDefault",
            "isServiceDefault": false,
            "inboundTrust": { "isMfaAccepted": true, "isCompliantDeviceAccepted": false, "isHybridAzureADJoinedDeviceAccepted": false, "futureFlag": 7 },
            "automaticUserConsentSettings": { "inboundAllowed": false, "outboundAllowed": false },
            "b2bCollaborationInbound": {
              "usersAndGroups": { "accessType": "allowed", "targets": [ { "target": "AllUsers", "targetType": "user" } ] },
              "applications": { "accessType": "allowed", "targets": [ { "target": "AllApplications", "targetType": "application" } ] }
            },
            "b2bCollaborationOutbound": null,
            "b2bDirectConnectInbound": {
              "usersAndGroups": { "accessType": "allowed", "targets": [ { "target": "AllUsers", "targetType": "user", "@odata.type": "#microsoft.graph.crossTenantAccessPolicyTarget" } ] },
              "applications": { "accessType": "allowed", "targets": [ { "target": "bbbbbbbb-0000-4000-8000-000000000001", "targetType": "application", "displayName": "Payroll" } ] },
              "x-setting-note": "kept"
            },
            "b2bDirectConnectOutbound": null,
            "tenantRestrictions": {
              "devices": null,
              "usersAndGroups": { "accessType": "blocked", "targets": [ { "target": "AllUsers", "targetType": "user" } ] },
              "applications": { "accessType": "blocked", "targets": [ { "target": "AllApplications", "targetType": "application" } ] }
            },
            "invitationRedemptionIdentityProviderConfiguration": {
              "primaryIdentityProviderPrecedenceOrder": [ "azureActiveDirectory", "externalFederation", "socialIdentityProviders" ],
              "fallbackIdentityProvider": "defaultConfiguredIdp"
            }
          },
          "partners": [
            {
              "@odata.type": "#microsoft.graph.crossTenantAccessPolicyConfigurationPartner",
              "tenantId": "22222222-2222-4222-8222-222222222222",
              "isServiceProvider": true,
              "isInMultiTenantOrganization": false,
              "inboundTrust": { "isMfaAccepted": null, "isCompliantDeviceAccepted": true, "isHybridAzureADJoinedDeviceAccepted": null },
              "automaticUserConsentSettings": { "inboundAllowed": true, "outboundAllowed": false, "x-consent": [1, 2] },
              "b2bDirectConnectInbound": {
                "usersAndGroups": {
                  "accessType": "allowed",
                  "targets": [ { "target": "aaaaaaaa-0000-4000-8000-000000000001", "targetType": "group", "displayName": "Engineering", "x-extra": { "nested": [ 1, { "deep": true } ] } } ],
                  "x-half-note": "kept"
                }
              },
              "b2bDirectConnectOutbound": null,
              "b2bCollaborationInbound": null,
              "b2bCollaborationOutbound": null,
              "tenantRestrictions": {
                "devices": { "mode": "allowed", "rule": "device.isCompliant -eq True" },
                "usersAndGroups": { "accessType": "allowed", "targets": [ { "target": "AllUsers", "targetType": "user" } ] },
                "applications": { "accessType": "allowed", "targets": [ { "target": "AllApplications", "targetType": "application" } ] }
              },
              "identitySynchronization": null
            }
          ]
        }
        """;

    [Fact]
    public void Parse_UnknownPropertiesEverywhere_AcceptedAsValid()
    {
        var result = PolicyParser.Parse(GraphExport, Ids.ResourceTenant);

        Assert.True(result.IsValid, string.Join("; ", result.Errors));
        Assert.True(result.Document!.Default!.AdditionalData!.ContainsKey("tenantRestrictions"));
        Assert.True(result.Document.Partners[0].AdditionalData!.ContainsKey("@odata.type"));
        var target = result.Document.Partners[0].B2bDirectConnectInbound!.UsersAndGroups!.Targets![0];
        Assert.Equal(("aaaaaaaa-0000-4000-8000-000000000001", "group"), (target.Target, target.TargetType));
        Assert.True(target.AdditionalData!.ContainsKey("x-extra"));
    }

    [Fact]
    public void WriteString_AfterParse_KeepsEveryOriginalProperty()
    {
        var document = PolicyParser.Parse(GraphExport, Ids.ResourceTenant).Document!;

        var written = PolicyWriter.WriteString(document);
        var reparsed = PolicyParser.Parse(written, Ids.ResourceTenant);

        Assert.True(reparsed.IsValid, string.Join("; ", reparsed.Errors));
        var original = JsonNode.Parse(GraphExport)!;
        var roundTripped = JsonNode.Parse(PolicyWriter.WriteString(reparsed.Document!))!;
        AssertContains(original, roundTripped, "$");
        Assert.True(JsonNode.DeepEquals(original["default"]!["tenantRestrictions"], roundTripped["default"]!["tenantRestrictions"]));
        Assert.True(JsonNode.DeepEquals(original["partners"]![0]!["tenantRestrictions"], roundTripped["partners"]![0]!["tenantRestrictions"]));
        Assert.True(JsonNode.DeepEquals(
            original["partners"]![0]!["b2bDirectConnectInbound"]!["usersAndGroups"],
            roundTripped["partners"]![0]!["b2bDirectConnectInbound"]!["usersAndGroups"]));
        Assert.Equal(written, PolicyWriter.WriteString(reparsed.Document!));
    }

    [Fact]
    public void Parse_PartnersAsGraphListResponse_AcceptedAndCompiled()
    {
        var json = EnvelopeDocument();

        var result = PolicyParser.Parse(json, Ids.ResourceTenant);

        Assert.True(result.IsValid, string.Join("; ", result.Errors));
        var document = result.Document!;
        Assert.Equal([Ids.PartnerTenant.ToString(), Ids.OtherPartnerTenant.ToString()], document.Partners.Select(p => p.TenantId));
        Assert.NotNull(document.PartnersEnvelope);
        Assert.Equal("https://graph.microsoft.com/v1.0/$metadata#policies/crossTenantAccessPolicy/partners", document.PartnersEnvelope["@odata.context"].GetString());

        var snapshot = PolicyCompiler.Compile(document, Ids.ResourceTenant);
        var decision = snapshot.Decide(Tokens.Read(Tokens.Member(Ids.OtherPartnerTenant)), AppPolicy.Open(Ids.A1));
        Assert.Equal((DecisionReason.InboundPolicyBlocked, SettingsSource.Partner), (decision.Reason, decision.Source));
    }

    [Fact]
    public void WriteString_PartnersReadFromGraphListResponse_KeepsEnvelope()
    {
        var json = EnvelopeDocument();
        var document = PolicyParser.Parse(json, Ids.ResourceTenant).Document!;

        var written = JsonNode.Parse(PolicyWriter.WriteString(document))!;

        var partners = Assert.IsType<JsonObject>(written["partners"]);
        Assert.Equal("https://graph.microsoft.com/v1.0/$metadata#policies/crossTenantAccessPolicy/partners", (string?)partners["@odata.context"]);
        Assert.Equal(2, partners["value"]!.AsArray().Count);
        AssertContains(JsonNode.Parse(json)!, written, "$");
        Assert.True(PolicyParser.Parse(written.ToJsonString(), Ids.ResourceTenant).IsValid);
    }

    [Fact]
    public void WriteString_PartnersReadAsPlainArray_WritesPlainArray()
    {
        var document = PolicyJson.ParseValid(PolicyJson.Document(PolicyJson.Default(), PolicyJson.Partner(Ids.PartnerTenant)));

        var written = JsonNode.Parse(PolicyWriter.WriteString(document))!;

        Assert.Null(document.PartnersEnvelope);
        Assert.Single(Assert.IsType<JsonArray>(written["partners"]));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Document_SnapshotCompiledFromBytes_RoundTripsToTheInputsCompactForm(bool envelope)
    {
        var json = envelope ? EnvelopeDocument() : GraphExport;
        var compactInput = PolicyWriter.WriteString(PolicyParser.Parse(json).Document!, indented: false);

        var snapshot = PolicyCompiler.Compile(System.Text.Encoding.UTF8.GetBytes(json), Ids.ResourceTenant, default, out var errors);

        Assert.True(snapshot is not null, string.Join("; ", errors));
        Assert.Equal(compactInput, System.Text.Encoding.UTF8.GetString(snapshot.DocumentUtf8.Span));
        Assert.Equal(compactInput, PolicyWriter.WriteString(snapshot.Document, indented: false));
        var written = JsonNode.Parse(snapshot.DocumentUtf8.Span)!;
        AssertContains(JsonNode.Parse(json)!, written, "$");
        Assert.Equal(envelope, written["partners"] is JsonObject);
    }

    private static string EnvelopeDocument()
    {
        var partners = new JsonArray
        {
            PolicyJson.Partner(Ids.PartnerTenant, PolicyJson.AllowAll()),
            PolicyJson.Partner(Ids.OtherPartnerTenant, PolicyJson.BlockAll()),
        };
        var document = PolicyJson.Document(PolicyJson.Default(PolicyJson.AllowAll()));
        document["partners"] = new JsonObject
        {
            ["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#policies/crossTenantAccessPolicy/partners",
            ["value"] = partners,
        };
        return document.ToJsonString();
    }

    /// <summary>Asserts that every property and value of <paramref name="expected"/> is in <paramref name="actual"/>.</summary>
    private static void AssertContains(JsonNode? expected, JsonNode? actual, string path)
    {
        switch (expected)
        {
            case JsonObject expectedObject:
                var actualObject = Assert.IsType<JsonObject>(actual);
                foreach (var (name, value) in expectedObject)
                {
                    Assert.True(actualObject.ContainsKey(name), $"{path}.{name} was lost");
                    AssertContains(value, actualObject[name], $"{path}.{name}");
                }

                break;
            case JsonArray expectedArray:
                var actualArray = Assert.IsType<JsonArray>(actual);
                Assert.Equal(expectedArray.Count, actualArray.Count);
                for (var i = 0; i < expectedArray.Count; i++)
                {
                    AssertContains(expectedArray[i], actualArray[i], $"{path}[{i}]");
                }

                break;
            default:
                Assert.True(JsonNode.DeepEquals(expected, actual), $"{path}: expected {expected?.ToJsonString() ?? "null"}, got {actual?.ToJsonString() ?? "null"}");
                break;
        }
    }
}
