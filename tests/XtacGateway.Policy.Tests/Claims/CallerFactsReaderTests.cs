using System.Text.Json.Nodes;
using XtacGateway.Policy.Claims;

namespace XtacGateway.Policy.Tests.Claims;

/// <summary>Domain rules section 6: what a token's claims say about its caller.</summary>
public sealed class CallerFactsReaderTests
{
    private const string HomeTenant = "22222222-2222-4222-8222-222222222222";
    private const string IssuerTenant = "11111111-1111-4111-8111-111111111111";

    [Fact]
    public void Read_MemberToken_HomeTenantFromTidAndObjectIdFromOid()
    {
        var facts = Tokens.Read($$"""{ "tid": "{{HomeTenant}}", "iss": "https://sts.windows.net/{{HomeTenant}}/", "oid": "{{Ids.U1}}" }""");

        Assert.Equal(HomeTenantStatus.Known, facts.Status);
        Assert.Equal(Ids.PartnerTenant, facts.HomeTenantId);
        Assert.Equal(Ids.PartnerTenant, facts.TokenTenantId);
        Assert.False(facts.IsGuest);
        Assert.Equal(Ids.U1, facts.UserObjectId);
        Assert.Empty(facts.Groups);
        Assert.False(facts.GroupsOverage);
        Assert.False(facts.MultifactorAuthenticated);
        Assert.False(facts.CompliantDevice);
        Assert.False(facts.HybridJoinedDevice);
    }

    [Fact]
    public void Read_GuestTokenWithV1Idp_HomeTenantFromIdpAndOidFromHomeOid()
    {
        var facts = Tokens.Read($$"""
            {
              "tid": "{{IssuerTenant}}",
              "iss": "https://sts.windows.net/{{IssuerTenant}}/",
              "idp": "https://sts.windows.net/{{HomeTenant}}/",
              "oid": "{{Ids.U2}}",
              "home_oid": "{{Ids.U1}}"
            }
            """);

        Assert.Equal(HomeTenantStatus.Known, facts.Status);
        Assert.Equal(Ids.PartnerTenant, facts.HomeTenantId);
        Assert.Equal(Ids.ResourceTenant, facts.TokenTenantId);
        Assert.True(facts.IsGuest);
        Assert.Equal(Ids.U1, facts.UserObjectId);
    }

    [Fact]
    public void Read_GuestTokenWithoutHomeOid_ObjectIdUnknownDespiteOid()
    {
        var facts = Tokens.Read(Tokens.Guest(Ids.ResourceTenant, Ids.PartnerTenant, homeObjectId: null));

        Assert.True(facts.IsGuest);
        Assert.Equal(Ids.PartnerTenant, facts.HomeTenantId);
        Assert.Null(facts.UserObjectId);
    }

    [Fact]
    public void Read_GuestTokenWithV2Idp_HomeTenantFromIdp()
    {
        var facts = Tokens.Read($$"""
            {
              "tid": "{{IssuerTenant}}",
              "iss": "https://login.microsoftonline.com/{{IssuerTenant}}/v2.0",
              "idp": "https://login.microsoftonline.com/{{HomeTenant}}/v2.0",
              "home_oid": "{{Ids.U1}}"
            }
            """);

        Assert.Equal(HomeTenantStatus.Known, facts.Status);
        Assert.Equal(Ids.PartnerTenant, facts.HomeTenantId);
        Assert.True(facts.IsGuest);
        Assert.Equal(Ids.U1, facts.UserObjectId);
    }

    [Fact]
    public void Read_IdpNamesIssuerTenant_NotGuest()
    {
        var facts = Tokens.Read($$"""
            {
              "tid": "{{HomeTenant}}",
              "iss": "https://login.microsoftonline.com/{{HomeTenant}}/v2.0",
              "idp": "https://sts.windows.net/{{HomeTenant}}/",
              "oid": "{{Ids.U1}}",
              "home_oid": "{{Ids.U2}}"
            }
            """);

        Assert.False(facts.IsGuest);
        Assert.Equal(Ids.PartnerTenant, facts.HomeTenantId);
        Assert.Equal(Ids.U1, facts.UserObjectId);
    }

    [Fact]
    public void Read_IdpIsTheIssuerOnAnotherCloudsAuthority_NotGuestAndDecidedOnTid()
    {
        var authority = $"https://login.microsoftonline.us/{HomeTenant}/v2.0";
        var facts = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("iss", authority).With("idp", authority));

        Assert.Equal(HomeTenantStatus.Known, facts.Status);
        Assert.False(facts.IsGuest);
        Assert.Equal(Ids.PartnerTenant, facts.HomeTenantId);
    }

    [Theory]
    [InlineData("live.com")]
    [InlineData("https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/")]
    [InlineData("https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0")]
    [InlineData("google.com")]
    public void Read_IdpNotAnEntraOrganisation_UnsupportedIdentityProvider(string idp)
    {
        var facts = Tokens.Read(Tokens.Member(Ids.ResourceTenant).With("idp", idp));

        Assert.Equal(HomeTenantStatus.UnsupportedIdentityProvider, facts.Status);
        Assert.Equal(Ids.ResourceTenant, facts.TokenTenantId);
    }

    [Fact]
    public void Read_TidIsConsumerTenant_UnsupportedIdentityProvider()
    {
        var facts = Tokens.Read(Tokens.Member(Ids.ConsumerTenant));

        Assert.Equal(HomeTenantStatus.UnsupportedIdentityProvider, facts.Status);
    }

    [Theory]
    [InlineData("""{ "oid": "cccccccc-0000-4000-8000-000000000001" }""")]
    [InlineData("""{ "tid": "garbage", "oid": "cccccccc-0000-4000-8000-000000000001" }""")]
    [InlineData("""{ "tid": "", "oid": "cccccccc-0000-4000-8000-000000000001" }""")]
    [InlineData("""{ "tid": "00000000-0000-0000-0000-000000000000" }""")]
    [InlineData("""{ "tid": 42 }""")]
    [InlineData("""{ "tid": null }""")]
    public void Read_MissingOrGarbageTid_Unknown(string claims)
    {
        var facts = Tokens.Read(claims);

        Assert.Equal(HomeTenantStatus.Unknown, facts.Status);
        Assert.Null(facts.TokenTenantId);
    }

    [Fact]
    public void Read_GroupsAsArray_AllGroupsRead()
    {
        var facts = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("groups", Tokens.Groups(Ids.G1, Ids.G2)));

        Assert.Equal([Ids.G1, Ids.G2], facts.Groups);
        Assert.False(facts.GroupsOverage);
    }

    [Fact]
    public void Read_GroupsAsSingleString_OneGroupRead()
    {
        var facts = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("groups", Ids.G2.ToString()));

        Assert.Equal([Ids.G2], facts.Groups);
    }

    [Fact]
    public void Read_AmrArrayContainingMfa_MultifactorAuthenticated()
    {
        var facts = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("amr", Tokens.Array("pwd", "mfa")));

        Assert.True(facts.MultifactorAuthenticated);
    }

    [Fact]
    public void Read_AmrSingleValueMfa_MultifactorAuthenticated()
    {
        var facts = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("amr", "mfa"));

        Assert.True(facts.MultifactorAuthenticated);
    }

    [Theory]
    [InlineData("""["pwd", "rsa"]""")]
    [InlineData("\"pwd\"")]
    [InlineData("[]")]
    public void Read_AmrWithoutMfa_NotMultifactorAuthenticated(string amr)
    {
        var facts = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("amr", JsonNode.Parse(amr)));

        Assert.False(facts.MultifactorAuthenticated);
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("\"true\"", true)]
    [InlineData("false", false)]
    [InlineData("\"false\"", false)]
    [InlineData("\"yes\"", false)]
    [InlineData("1", false)]
    public void Read_DeviceCompliant_TrueOnlyForBooleanOrStringTrue(string value, bool expected)
    {
        var facts = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("device_compliant", JsonNode.Parse(value)));

        Assert.Equal(expected, facts.CompliantDevice);
    }

    [Theory]
    [InlineData("ServerAd", true)]
    [InlineData("AzureAd", false)]
    [InlineData("Workplace", false)]
    public void Read_DeviceTrustType_HybridJoinedOnlyForServerAd(string trustType, bool expected)
    {
        var facts = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("device_trust_type", trustType));

        Assert.Equal(expected, facts.HybridJoinedDevice);
    }

    [Fact]
    public void Read_ClaimNamesMarkerWithoutGroupsClaim_GroupOverage()
    {
        var facts = Tokens.Read(Tokens.Member(Ids.PartnerTenant)
            .With("_claim_names", new JsonObject { ["groups"] = "src1" })
            .With("_claim_sources", new JsonObject { ["src1"] = new JsonObject { ["endpoint"] = "https://graph.microsoft.com/v1.0/users/x/getMemberObjects" } }));

        Assert.True(facts.GroupsOverage);
        Assert.Empty(facts.Groups);
    }

    [Fact]
    public void Read_HasGroupsTrue_GroupOverage()
    {
        var facts = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("hasgroups", true));

        Assert.True(facts.GroupsOverage);
    }

    [Fact]
    public void Read_ClaimNamesMarkerWithGroupsClaimPresent_NoOverage()
    {
        var facts = Tokens.Read(Tokens.Member(Ids.PartnerTenant)
            .With("groups", Tokens.Groups(Ids.G1))
            .With("_claim_names", new JsonObject { ["groups"] = "src1" }));

        Assert.False(facts.GroupsOverage);
        Assert.Equal([Ids.G1], facts.Groups);
    }

    [Fact]
    public void Read_ClaimNamesMarkerForOtherClaim_NoOverage()
    {
        var facts = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("_claim_names", new JsonObject { ["roles"] = "src1" }));

        Assert.False(facts.GroupsOverage);
    }

    [Fact]
    public void Read_CustomClaimNames_ReadsConfiguredClaimsOnly()
    {
        var names = new ClaimNames
        {
            TenantId = "x_tenant",
            ObjectId = "x_user",
            Groups = "x_groups",
            AuthenticationMethods = "x_methods",
            MfaMethod = "otp",
            DeviceCompliant = "x_compliant",
            DeviceTrustType = "x_join",
            HybridJoinedTrustType = "Hybrid",
        };

        // The default-named claims carry other values, which must be ignored.
        var facts = Tokens.Read(
            $$"""
            {
              "tid": "{{IssuerTenant}}",
              "oid": "{{Ids.U2}}",
              "groups": ["{{Ids.G2}}"],
              "amr": ["pwd"],
              "device_compliant": false,
              "device_trust_type": "AzureAd",
              "x_tenant": "{{HomeTenant}}",
              "x_user": "{{Ids.U1}}",
              "x_groups": ["{{Ids.G1}}"],
              "x_methods": ["pwd", "otp"],
              "x_compliant": true,
              "x_join": "Hybrid"
            }
            """,
            names);

        Assert.Equal(Ids.PartnerTenant, facts.HomeTenantId);
        Assert.Equal(Ids.U1, facts.UserObjectId);
        Assert.Equal([Ids.G1], facts.Groups);
        Assert.True(facts.MultifactorAuthenticated);
        Assert.True(facts.CompliantDevice);
        Assert.True(facts.HybridJoinedDevice);
    }

    [Fact]
    public void Read_CustomGuestClaimNames_HomeFromConfiguredIdpAndHomeOid()
    {
        var names = new ClaimNames { Issuer = "x_iss", IdentityProvider = "x_idp", HomeObjectId = "x_home_oid" };

        var facts = Tokens.Read(
            $$"""
            {
              "tid": "{{IssuerTenant}}",
              "x_iss": "https://sts.windows.net/{{IssuerTenant}}/",
              "x_idp": "https://sts.windows.net/{{HomeTenant}}/",
              "idp": "live.com",
              "home_oid": "{{Ids.U2}}",
              "x_home_oid": "{{Ids.U1}}"
            }
            """,
            names);

        Assert.Equal(HomeTenantStatus.Known, facts.Status);
        Assert.True(facts.IsGuest);
        Assert.Equal(Ids.PartnerTenant, facts.HomeTenantId);
        Assert.Equal(Ids.U1, facts.UserObjectId);
    }

    [Fact]
    public void Read_CustomOverageClaimNames_OverageFromConfiguredMarkers()
    {
        var names = new ClaimNames { Groups = "x_groups", OverageClaimNames = "x_claim_names", HasGroups = "x_hasgroups" };

        var byMarker = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("x_claim_names", new JsonObject { ["x_groups"] = "src1" }), names);
        var byFlag = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("x_hasgroups", true), names);
        var defaultNamesIgnored = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("hasgroups", true), names);

        Assert.True(byMarker.GroupsOverage);
        Assert.True(byFlag.GroupsOverage);
        Assert.False(defaultNamesIgnored.GroupsOverage);
    }
}
