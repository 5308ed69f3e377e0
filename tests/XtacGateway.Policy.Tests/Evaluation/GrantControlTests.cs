using System.Text.Json.Nodes;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Evaluation;
using static XtacGateway.Policy.Tests.PolicyJson;

namespace XtacGateway.Policy.Tests.Evaluation;

/// <summary>Domain rules sections 5, 6a (steps 2, 4-6) and 8: inbound trust, each app's grant controls, error codes.</summary>
public sealed class GrantControlTests
{
    [Theory]
    [InlineData(true, true, DecisionReason.Allowed)]
    [InlineData(true, false, DecisionReason.MfaRequired)]
    [InlineData(false, true, DecisionReason.MfaRequired)]
    [InlineData(false, false, DecisionReason.MfaRequired)]
    public void Decide_MfaControl_NeedsTrustAndMfaClaim(bool isMfaAccepted, bool hasMfa, DecisionReason expected)
    {
        var snapshot = PartnerWithTrust(Trust(isMfaAccepted, false, false));
        var claims = Tokens.Member(Ids.PartnerTenant).With("amr", hasMfa ? Tokens.Array("pwd", "mfa") : Tokens.Array("pwd"));

        var decision = snapshot.Decide(Tokens.Read(claims), AppPolicy.Create(Ids.A1, GrantOperator.Or, GrantControl.Mfa));

        Assert.Equal(expected, decision.Reason);
        Assert.Equal(expected == DecisionReason.Allowed ? null : "AADSTS50076", decision.ErrorCode);
        if (expected != DecisionReason.Allowed)
        {
            Assert.EndsWith($"and the token shows none that is trusted from home tenant {Ids.PartnerTenant}.", decision.Detail, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(true, true, DecisionReason.Allowed)]
    [InlineData(true, false, DecisionReason.CompliantDeviceRequired)]
    [InlineData(false, true, DecisionReason.CompliantDeviceRequired)]
    public void Decide_CompliantDeviceControl_NeedsTrustAndCompliantClaim(bool isCompliantDeviceAccepted, bool compliant, DecisionReason expected)
    {
        var snapshot = PartnerWithTrust(Trust(false, isCompliantDeviceAccepted, false));
        var claims = Tokens.Member(Ids.PartnerTenant).With("device_compliant", compliant);

        var decision = snapshot.Decide(Tokens.Read(claims), AppPolicy.Create(Ids.A1, GrantOperator.Or, GrantControl.CompliantDevice));

        Assert.Equal(expected, decision.Reason);
        Assert.Equal(expected == DecisionReason.Allowed ? null : "AADSTS53000", decision.ErrorCode);
    }

    [Theory]
    [InlineData(true, "ServerAd", DecisionReason.Allowed)]
    [InlineData(true, "AzureAd", DecisionReason.HybridJoinedDeviceRequired)]
    [InlineData(false, "ServerAd", DecisionReason.HybridJoinedDeviceRequired)]
    public void Decide_DomainJoinedDeviceControl_NeedsTrustAndServerAdTrustType(bool isHybridAccepted, string trustType, DecisionReason expected)
    {
        var snapshot = PartnerWithTrust(Trust(false, false, isHybridAccepted));
        var claims = Tokens.Member(Ids.PartnerTenant).With("device_trust_type", trustType);

        var decision = snapshot.Decide(Tokens.Read(claims), AppPolicy.Create(Ids.A1, GrantOperator.Or, GrantControl.DomainJoinedDevice));

        Assert.Equal(expected, decision.Reason);
        Assert.Equal(expected == DecisionReason.Allowed ? null : "AADSTS53001", decision.ErrorCode);
    }

    [Fact]
    public void Decide_OrControlsNoneSatisfied_ReasonOfFirstListedControl()
    {
        var snapshot = PartnerWithTrust(Trust(false, false, false));
        var caller = Tokens.Read(Tokens.Member(Ids.PartnerTenant));

        var deviceFirst = snapshot.Decide(caller, AppPolicy.Create(Ids.A1, GrantOperator.Or, GrantControl.CompliantDevice, GrantControl.Mfa));
        var mfaFirst = snapshot.Decide(caller, AppPolicy.Create(Ids.A1, GrantOperator.Or, GrantControl.Mfa, GrantControl.CompliantDevice));
        var hybridFirst = snapshot.Decide(caller, AppPolicy.Create(Ids.A1, GrantOperator.Or, GrantControl.DomainJoinedDevice, GrantControl.Mfa));

        Assert.Equal(DecisionReason.CompliantDeviceRequired, deviceFirst.Reason);
        Assert.Equal(DecisionReason.MfaRequired, mfaFirst.Reason);
        Assert.Equal(DecisionReason.HybridJoinedDeviceRequired, hybridFirst.Reason);
    }

    [Fact]
    public void Decide_OrControlsOneSatisfied_Allows()
    {
        var snapshot = PartnerWithTrust(Trust(false, true, false));
        var caller = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("device_compliant", true));

        var decision = snapshot.Decide(caller, AppPolicy.Create(Ids.A1, GrantOperator.Or, GrantControl.Mfa, GrantControl.CompliantDevice));

        Assert.Equal(DecisionReason.Allowed, decision.Reason);
    }

    [Fact]
    public void Decide_AndControls_FirstUnsatisfiedInListedOrder()
    {
        var snapshot = PartnerWithTrust(Trust(true, true, true));
        var onlyMfa = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("amr", Tokens.Array("mfa")));
        var onlyHybrid = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("device_trust_type", "ServerAd"));
        var all = AppPolicy.Create(Ids.A1, GrantOperator.And, GrantControl.Mfa, GrantControl.CompliantDevice, GrantControl.DomainJoinedDevice);
        var reversed = AppPolicy.Create(Ids.A1, GrantOperator.And, GrantControl.DomainJoinedDevice, GrantControl.CompliantDevice, GrantControl.Mfa);

        Assert.Equal(DecisionReason.CompliantDeviceRequired, snapshot.Decide(onlyMfa, all).Reason);
        Assert.Equal(DecisionReason.CompliantDeviceRequired, snapshot.Decide(onlyHybrid, reversed).Reason);
        Assert.Equal(DecisionReason.MfaRequired, snapshot.Decide(onlyHybrid, all).Reason);
        Assert.Equal(DecisionReason.HybridJoinedDeviceRequired, snapshot.Decide(onlyMfa, reversed).Reason);
    }

    [Fact]
    public void Decide_AndControlsAllSatisfied_Allows()
    {
        var snapshot = PartnerWithTrust(Trust(true, true, true));
        var caller = Tokens.Read(Tokens.Member(Ids.PartnerTenant)
            .With("amr", Tokens.Array("mfa"))
            .With("device_compliant", true)
            .With("device_trust_type", "ServerAd"));

        var decision = snapshot.Decide(caller, AppPolicy.Create(Ids.A1, GrantOperator.And, GrantControl.Mfa, GrantControl.CompliantDevice, GrantControl.DomainJoinedDevice));

        Assert.Equal((DecisionReason.Allowed, SettingsSource.Partner), (decision.Reason, decision.Source));
    }

    [Fact]
    public void Decide_BlockControl_DeniesEvenWhenOtherControlsSatisfied()
    {
        var snapshot = PartnerWithTrust(Trust(true, true, true));
        var caller = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("amr", Tokens.Array("mfa")));

        var orBlock = snapshot.Decide(caller, AppPolicy.Create(Ids.A1, GrantOperator.Or, GrantControl.Mfa, GrantControl.Block));
        var andBlock = snapshot.Decide(caller, AppPolicy.Create(Ids.A1, GrantOperator.And, GrantControl.Mfa, GrantControl.Block));

        Assert.Equal(DecisionReason.BlockedByGrantControls, orBlock.Reason);
        Assert.Equal(DecisionReason.BlockedByGrantControls, andBlock.Reason);
        Assert.Equal("AADSTS53003", orBlock.ErrorCode);
    }

    [Fact]
    public void Decide_NoControls_AllowsWithoutAnyClaim()
    {
        var snapshot = PartnerWithTrust(Trust(false, false, false));

        var decision = snapshot.Decide(Tokens.Read(Tokens.Member(Ids.PartnerTenant)), AppPolicy.Open(Ids.A1));

        Assert.Equal(DecisionReason.Allowed, decision.Reason);
        Assert.Null(decision.ErrorCode);
        Assert.True(decision.IsAllowed);
    }

    [Fact]
    public void Decide_InternalCaller_InternalUserWithoutCrossTenantSettings()
    {
        // The service default blocks every external caller and trusts nothing.
        var snapshot = Compile(Document(ServiceDefault()));
        var caller = Tokens.Read(Tokens.Member(Ids.ResourceTenant)
            .With("amr", Tokens.Array("pwd", "mfa"))
            .With("device_compliant", "true")
            .With("device_trust_type", "ServerAd"));

        var open = snapshot.Decide(caller, AppPolicy.Open(Ids.A1));
        var guarded = snapshot.Decide(caller, AppPolicy.Create(Ids.A1, GrantOperator.And, GrantControl.Mfa, GrantControl.CompliantDevice, GrantControl.DomainJoinedDevice));

        Assert.Equal((DecisionReason.InternalUser, SettingsSource.None, Ids.ResourceTenant), (open.Reason, open.Source, open.HomeTenantId));
        Assert.Equal((DecisionReason.InternalUser, SettingsSource.None), (guarded.Reason, guarded.Source));
        Assert.True(guarded.IsAllowed);
        Assert.Null(guarded.ErrorCode);
    }

    [Fact]
    public void Decide_InternalCallerWithoutMfaOnMfaApp_MfaRequired()
    {
        // Trust is irrelevant for internal callers: even full trust does not stand in for the missing claim.
        var snapshot = Compile(Document(Default(AllowAll(), Trust(true, true, true))));
        var caller = Tokens.Read(Tokens.Member(Ids.ResourceTenant).With("amr", Tokens.Array("pwd")));

        var decision = snapshot.Decide(caller, AppPolicy.Create(Ids.A1, GrantOperator.Or, GrantControl.Mfa));

        Assert.Equal((DecisionReason.MfaRequired, SettingsSource.None), (decision.Reason, decision.Source));
        Assert.Equal("AADSTS50076", decision.ErrorCode);
        // No trust was consulted, so the caller is not told about trust from its (own) tenant.
        Assert.EndsWith("and the token shows none.", decision.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("resource", true)]
    [InlineData("partner", true)]
    [InlineData("third", false)]
    public void Decide_ExternalCallerMfaAndDeviceClaims_CountOnlyFromHomeOrResourceTenantIssuer(string issuer, bool allowed)
    {
        // A partner user in a token of its home tenant, of the resource tenant (a guest there), or of a third tenant
        // (a guest there: any tenant can issue tokens for a multi-tenant app, with MFA and device claims of its own).
        var snapshot = PartnerWithTrust(Trust(true, true, true));
        var issuerTenant = issuer switch { "resource" => Ids.ResourceTenant, "partner" => Ids.PartnerTenant, _ => Ids.UnknownTenant };
        var claims = (issuer == "partner" ? Tokens.Member(Ids.PartnerTenant) : Tokens.Guest(issuerTenant, Ids.PartnerTenant, Ids.U1))
            .With("amr", Tokens.Array("pwd", "mfa"))
            .With("device_compliant", "true")
            .With("device_trust_type", "ServerAd");
        var caller = Tokens.Read(claims);
        Assert.Equal(Ids.PartnerTenant, caller.HomeTenantId);

        foreach (var control in new[] { GrantControl.Mfa, GrantControl.CompliantDevice, GrantControl.DomainJoinedDevice })
        {
            var decision = snapshot.Decide(caller, AppPolicy.Create(Ids.A1, GrantOperator.Or, control));
            Assert.True(allowed == decision.IsAllowed, $"{control} with a token of the {issuer} tenant: {decision.Reason}");
        }
    }

    [Fact]
    public void Decide_InternalUserInThirdTenantGuestToken_MfaClaimDoesNotCount()
    {
        // Someone with a resource-tenant user's password, not their MFA, invites that user into a tenant of their own
        // and registers an MFA method there: that tenant's token says idp = the resource tenant, amr = mfa.
        var snapshot = Compile(Document(ServiceDefault()));
        var caller = Tokens.Read(Tokens.Guest(Ids.UnknownTenant, Ids.ResourceTenant, Ids.U1).With("amr", Tokens.Array("pwd", "mfa")));
        Assert.Equal(Ids.ResourceTenant, caller.HomeTenantId);

        var open = snapshot.Decide(caller, AppPolicy.Open(Ids.A1));
        var mfa = snapshot.Decide(caller, AppPolicy.Create(Ids.A1, GrantOperator.Or, GrantControl.Mfa));

        Assert.Equal(DecisionReason.InternalUser, open.Reason);
        Assert.Equal(DecisionReason.MfaRequired, mfa.Reason);
    }

    [Fact]
    public void Decide_InternalCallerOnBlockApp_BlockedByGrantControls()
    {
        var snapshot = Compile(Document(ServiceDefault()));

        var decision = snapshot.Decide(Tokens.Read(Tokens.Member(Ids.ResourceTenant)), AppPolicy.Create(Ids.A1, GrantOperator.Or, GrantControl.Block));

        Assert.Equal(DecisionReason.BlockedByGrantControls, decision.Reason);
    }

    [Fact]
    public void Decide_InboundBlockedAndControlsUnmet_InboundPolicyCheckedFirst()
    {
        var snapshot = Compile(Document(Default(AllowAll()), Partner(Ids.PartnerTenant, BlockAll(), Trust(false, false, false))));
        var caller = Tokens.Read(Tokens.Member(Ids.PartnerTenant));

        var mfaApp = snapshot.Decide(caller, AppPolicy.Create(Ids.A1, GrantOperator.Or, GrantControl.Mfa));
        var blockApp = snapshot.Decide(caller, AppPolicy.Create(Ids.A1, GrantOperator.Or, GrantControl.Block));

        Assert.Equal(DecisionReason.InboundPolicyBlocked, mfaApp.Reason);
        Assert.Equal(DecisionReason.InboundPolicyBlocked, blockApp.Reason);
        Assert.Equal("AADSTS500213", blockApp.ErrorCode);
    }

    [Theory]
    [InlineData(DecisionReason.Allowed, null)]
    [InlineData(DecisionReason.InternalUser, null)]
    [InlineData(DecisionReason.InboundPolicyBlocked, "AADSTS500213")]
    [InlineData(DecisionReason.MfaRequired, "AADSTS50076")]
    [InlineData(DecisionReason.CompliantDeviceRequired, "AADSTS53000")]
    [InlineData(DecisionReason.HybridJoinedDeviceRequired, "AADSTS53001")]
    [InlineData(DecisionReason.BlockedByGrantControls, "AADSTS53003")]
    [InlineData(DecisionReason.GroupMembershipUnavailable, null)]
    [InlineData(DecisionReason.HomeIdentityUnavailable, null)]
    [InlineData(DecisionReason.UnsupportedIdentityProvider, null)]
    [InlineData(DecisionReason.UnknownHomeTenant, null)]
    [InlineData(DecisionReason.PolicyUnavailable, null)]
    public void ErrorCode_EachReason_MatchesSection8(DecisionReason reason, string? expected)
    {
        var decision = new Decision(reason, SettingsSource.Partner, Ids.PartnerTenant, Ids.A1);

        Assert.Equal(expected, decision.ErrorCode);
        Assert.Equal(reason is DecisionReason.Allowed or DecisionReason.InternalUser, decision.IsAllowed);
        Assert.Equal(reason.ToString(), decision.ReasonName);
    }

    private static PolicySnapshot PartnerWithTrust(JsonObject trust)
        => Compile(Document(Default(AllowAll()), Partner(Ids.PartnerTenant, AllowAll(), trust)));
}
