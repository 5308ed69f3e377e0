using System.Text.Json.Nodes;
using XtacGateway.Policy.Model;
using XtacGateway.Policy.Validation;
using static XtacGateway.Policy.Tests.PolicyJson;

namespace XtacGateway.Policy.Tests.Validation;

/// <summary>The parser streams the partners: property order, syntax errors and error order must not depend on it.</summary>
public sealed class PolicyParserStreamingTests
{
    private const string EnvelopeContext = "https://graph.microsoft.com/v1.0/$metadata#policies/crossTenantAccessPolicy/partners";

    [Fact]
    public void Parse_DefaultAndUnknownPropertiesAfterPartners_AllMaterialized()
    {
        var document = new JsonObject
        {
            ["x-before"] = 1,
            ["partners"] = new JsonArray(Partner(Ids.PartnerTenant, AllowAll()), Partner(Ids.OtherPartnerTenant)),
            ["default"] = Default(BlockAll()),
            ["x-after"] = new JsonObject { ["kept"] = true },
        };

        var parsed = ParseValid(document);

        Assert.Equal([Ids.PartnerTenant.ToString(), Ids.OtherPartnerTenant.ToString()], parsed.Partners.Select(p => p.TenantId));
        Assert.Equal(PolicyKeywords.Blocked, parsed.Default!.B2bDirectConnectInbound!.UsersAndGroups!.AccessType);
        Assert.Equal(["x-after", "x-before"], parsed.AdditionalData!.Keys.Order(StringComparer.Ordinal));
        Assert.True(parsed.AdditionalData["x-after"].GetProperty("kept").GetBoolean());
    }

    [Fact]
    public void Parse_MalformedJsonInsideThirdPartner_ReportsLineAndByteInTheFile()
    {
        string[] lines =
        [
            "{",
            "  \"default\": {},",
            "  \"partners\": [",
            "    { \"tenantId\": \"22222222-2222-4222-8222-222222222222\" },",
            "    { \"tenantId\": \"33333333-3333-4333-8333-333333333333\" },",
            "    { \"tenantId\": \"44444444-4444-4444-8444-444444444444\", \"isServiceProvider\": # }",
            "  ]",
            "}",
        ];

        var result = PolicyParser.Parse(string.Join('\n', lines), Ids.ResourceTenant);

        Assert.Null(result.Document);
        var error = Assert.Single(result.Errors);
        Assert.Equal("$", error.Path);
        // The '#' is the 80th byte of line 6.
        Assert.StartsWith("Malformed JSON at line 6, byte 80:", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(" x")]
    [InlineData("{}")]
    [InlineData("]")]
    [InlineData("\n, {}")]
    public void Parse_TrailingContentAfterRoot_MalformedJsonError(string trailing)
    {
        var json = Document(Default(), Partner(Ids.PartnerTenant)).ToJsonString() + trailing;

        var result = PolicyParser.Parse(json, Ids.ResourceTenant);

        Assert.Null(result.Document);
        var error = Assert.Single(result.Errors);
        Assert.Equal("$", error.Path);
        Assert.StartsWith("Malformed JSON at line", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_WhiteSpaceAndCommentsAfterRoot_Valid()
    {
        var json = Document(Default(), Partner(Ids.PartnerTenant)).ToJsonString() + "\n  // exported by hand\n /* end */ \n";

        var result = PolicyParser.Parse(json, Ids.ResourceTenant);

        Assert.True(result.IsValid, string.Join("; ", result.Errors));
    }

    [Fact]
    public void Parse_EnvelopeMembersAroundValue_KeptAndWrittenBack()
    {
        var document = Document(Default());
        document["partners"] = new JsonObject
        {
            ["@odata.context"] = EnvelopeContext,
            ["value"] = new JsonArray(Partner(Ids.PartnerTenant), Partner(Ids.OtherPartnerTenant, BlockAll())),
            ["@odata.nextLink"] = null,
            ["x-paging"] = new JsonObject { ["pageSize"] = 2, ["cursors"] = new JsonArray("a", "b") },
        };

        var parsed = ParseValid(document);
        var written = JsonNode.Parse(PolicyWriter.WriteString(parsed))!;

        Assert.Equal(2, parsed.Partners.Count);
        Assert.Equal(["@odata.context", "@odata.nextLink", "x-paging"], parsed.PartnersEnvelope!.Keys.Order(StringComparer.Ordinal));
        var writtenEnvelope = written["partners"]!.AsObject();
        foreach (var name in (string[])["@odata.context", "@odata.nextLink", "x-paging"])
        {
            Assert.True(JsonNode.DeepEquals(document["partners"]![name], writtenEnvelope[name]), $"{name} changed");
        }

        Assert.True(JsonNode.DeepEquals(document["partners"]!["value"], writtenEnvelope["value"]));
    }

    [Fact]
    public void Parse_EnvelopeWithNullValue_ValidWithoutPartners()
    {
        var document = Document(Default());
        document["partners"] = new JsonObject { ["@odata.context"] = EnvelopeContext, ["value"] = null };

        var parsed = ParseValid(document);

        Assert.Empty(parsed.Partners);
        Assert.Equal(EnvelopeContext, parsed.PartnersEnvelope!["@odata.context"].GetString());
    }

    [Theory]
    [InlineData("42", "$.partners", "the number 42")]
    [InlineData("\"all\"", "$.partners", "the string 'all'")]
    [InlineData("{\"@odata.context\": \"x\"}", "$.partners", "'value' array")]
    [InlineData("{\"value\": {}}", "$.partners.value", "an object")]
    [InlineData("[1]", "$.partners[0]", "the number 1")]
    public void Parse_PartnersNotAListOfObjects_ErrorAtPartners(string partners, string expectedPath, string expectedInMessage)
    {
        var document = Document(Default());
        document["partners"] = JsonNode.Parse(partners);

        var error = Assert.Single(Parse(document).Errors);

        Assert.Equal(expectedPath, error.Path);
        Assert.Contains(expectedInMessage, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_PartnersNull_ValidWithoutPartners()
    {
        var document = Document(Default());
        document["partners"] = null;

        Assert.Empty(ParseValid(document).Partners);
    }

    [Theory]
    [InlineData(false, "$.partners")]
    [InlineData(true, "$.partners.value")]
    public void Parse_ErrorsInSeveralPartners_AllReportedInDocumentOrder(bool asEnvelope, string partnersPath)
    {
        var document = Document(
            Default(),
            Partner(Ids.PartnerTenant),
            Partner(Ids.OtherPartnerTenant),
            Partner(Ids.UnknownTenant, AllowAll()),
            Partner(Ids.ConsumerTenant, AllowAll()),
            Partner(Ids.PartnerTenant));
        document["default"]!["inboundTrust"]!["isMfaAccepted"] = "yes";
        document["partners"]![1]!["tenantId"] = "contoso";
        document["partners"]![3]!["b2bDirectConnectInbound"]!["usersAndGroups"]!["accessType"] = "permitted";
        if (asEnvelope)
        {
            document["partners"] = new JsonObject { ["value"] = document["partners"]!.DeepClone() };
        }

        var result = Parse(document);

        Assert.Null(result.Document);
        Assert.Equal(
            [
                "$.default.inboundTrust.isMfaAccepted",
                $"{partnersPath}[1].tenantId",
                $"{partnersPath}[3].b2bDirectConnectInbound.usersAndGroups.accessType",
                $"{partnersPath}[4].tenantId",
            ],
            result.Errors.Select(e => e.Path));
        Assert.Contains($"already configured by {partnersPath}[0];", result.Errors[^1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_KeywordStrings_SameInstanceAcrossPartners()
    {
        var parsed = ParseValid(Document(Default(), Partner(Ids.PartnerTenant, AllowAll()), Partner(Ids.OtherPartnerTenant, AllowAll())));

        var first = parsed.Partners[0].B2bDirectConnectInbound!;
        var second = parsed.Partners[1].B2bDirectConnectInbound!;
        Assert.Same(first.UsersAndGroups!.AccessType, second.UsersAndGroups!.AccessType);
        Assert.Same(PolicyKeywords.Allowed, second.UsersAndGroups.AccessType);
        Assert.Same(first.UsersAndGroups.Targets![0].Target, second.UsersAndGroups.Targets![0].Target);
        Assert.Same(PolicyKeywords.AllUsers, second.UsersAndGroups.Targets[0].Target);
        Assert.Same(first.UsersAndGroups.Targets[0].TargetType, second.UsersAndGroups.Targets[0].TargetType);
        Assert.Same(first.Applications!.Targets![0].Target, second.Applications!.Targets![0].Target);
        Assert.Same(first.Applications.Targets[0].TargetType, second.Applications.Targets[0].TargetType);
        Assert.Same(PolicyKeywords.TargetTypeUser, parsed.Default!.B2bDirectConnectInbound!.UsersAndGroups!.Targets![0].TargetType);
    }

    [Fact]
    public void Parse_EscapedKeyword_ReadAsTheKeyword()
    {
        var json = Document(Default(), Partner(Ids.PartnerTenant, AllowAll())).ToJsonString()
            .Replace("\"allowed\"", "\"\\u0061llowed\"", StringComparison.Ordinal);

        var result = PolicyParser.Parse(json, Ids.ResourceTenant);

        Assert.True(result.IsValid, string.Join("; ", result.Errors));
        Assert.Same(PolicyKeywords.Allowed, result.Document!.Partners[0].B2bDirectConnectInbound!.UsersAndGroups!.AccessType);
    }
}
