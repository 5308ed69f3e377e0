using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Evaluation;
using static XtacGateway.Policy.Tests.PolicyJson;

namespace XtacGateway.Policy.Tests.Compilation;

/// <summary>Domain rules section 3: how a partner's settings inherit from the default.</summary>
public sealed class PolicyCompilerInheritanceTests
{
    [Fact]
    public void Compile_PartnerDirectConnectInboundNull_TakesDefaultSetting()
    {
        var defaults = Default(Setting(Allowed(AllUsers()), Allowed(App(Ids.A1))));
        var snapshot = Compile(Document(defaults, Partner(Ids.PartnerTenant, directConnectInbound: null, Trust(true, null, null))));
        var caller = Tokens.Read(Tokens.Member(Ids.PartnerTenant));

        var toA1 = snapshot.Decide(caller, AppPolicy.Open(Ids.A1));
        var toA2 = snapshot.Decide(caller, AppPolicy.Open(Ids.A2));

        Assert.Equal((DecisionReason.Allowed, SettingsSource.Partner), (toA1.Reason, toA1.Source));
        Assert.Equal((DecisionReason.InboundPolicyBlocked, SettingsSource.Partner), (toA2.Reason, toA2.Source));
    }

    [Fact]
    public void Compile_PartnerSettingWithOnlyUsersAndGroups_TakesApplicationsFromDefault()
    {
        var defaults = Default(Setting(Allowed(AllUsers()), Allowed(App(Ids.A1))));
        var snapshot = Compile(Document(defaults, Partner(Ids.PartnerTenant, Setting(Allowed(Group(Ids.G1)), applications: null))));
        var member = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("groups", Tokens.Groups(Ids.G1)));
        var nonMember = Tokens.Read(Tokens.Member(Ids.PartnerTenant, Ids.U2).With("groups", Tokens.Groups(Ids.G2)));

        // Users from the partner (only g1), applications from the default (only a1).
        Assert.Equal(DecisionReason.Allowed, snapshot.Decide(member, AppPolicy.Open(Ids.A1)).Reason);
        Assert.Equal(DecisionReason.InboundPolicyBlocked, snapshot.Decide(member, AppPolicy.Open(Ids.A2)).Reason);
        Assert.Equal(DecisionReason.InboundPolicyBlocked, snapshot.Decide(nonMember, AppPolicy.Open(Ids.A1)).Reason);
    }

    [Fact]
    public void Compile_PartnerSettingWithOnlyApplications_TakesUsersAndGroupsFromDefault()
    {
        // The default allows everyone (to a1); the service default would block everyone.
        var defaults = Default(Setting(Allowed(AllUsers()), Allowed(App(Ids.A1))));
        var snapshot = Compile(Document(defaults, Partner(Ids.PartnerTenant, Setting(usersAndGroups: null, Allowed(App(Ids.A2))))));
        var caller = Tokens.Read(Tokens.Member(Ids.PartnerTenant));

        Assert.Equal(DecisionReason.Allowed, snapshot.Decide(caller, AppPolicy.Open(Ids.A2)).Reason);
        Assert.Equal(DecisionReason.InboundPolicyBlocked, snapshot.Decide(caller, AppPolicy.Open(Ids.A1)).Reason);
    }

    [Fact]
    public void Compile_PartnerInboundTrustFieldsNull_TakesEachFromDefault()
    {
        var defaults = Default(AllowAll(), Trust(mfa: true, compliantDevice: true, hybridJoinedDevice: false));
        var partnerTrust = Trust(mfa: null, compliantDevice: false, hybridJoinedDevice: true);
        var snapshot = Compile(Document(defaults, Partner(Ids.PartnerTenant, inboundTrust: partnerTrust)));
        var caller = Tokens.Read(Tokens.Member(Ids.PartnerTenant)
            .With("amr", Tokens.Array("pwd", "mfa"))
            .With("device_compliant", true)
            .With("device_trust_type", "ServerAd"));

        var mfa = snapshot.Decide(caller, AppPolicy.Create(Ids.A1, GrantOperator.And, GrantControl.Mfa));
        var compliant = snapshot.Decide(caller, AppPolicy.Create(Ids.A1, GrantOperator.And, GrantControl.CompliantDevice));
        var hybrid = snapshot.Decide(caller, AppPolicy.Create(Ids.A1, GrantOperator.And, GrantControl.DomainJoinedDevice));

        Assert.Equal(DecisionReason.Allowed, mfa.Reason); // null: the default's true
        Assert.Equal(DecisionReason.CompliantDeviceRequired, compliant.Reason); // false overrides the default's true
        Assert.Equal(DecisionReason.Allowed, hybrid.Reason); // true overrides the default's false
    }

    [Fact]
    public void Compile_PartnerInboundTrustNull_TakesWholeTrustFromDefault()
    {
        var defaults = Default(AllowAll(), Trust(mfa: true, compliantDevice: false, hybridJoinedDevice: false));
        var snapshot = Compile(Document(defaults, Partner(Ids.PartnerTenant, AllowAll(), inboundTrust: null)));
        var withMfa = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("amr", Tokens.Array("mfa")));
        var withCompliantDevice = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("device_compliant", true));

        Assert.Equal(DecisionReason.Allowed, snapshot.Decide(withMfa, AppPolicy.Create(Ids.A1, GrantOperator.Or, GrantControl.Mfa)).Reason);
        Assert.Equal(
            DecisionReason.CompliantDeviceRequired,
            snapshot.Decide(withCompliantDevice, AppPolicy.Create(Ids.A1, GrantOperator.Or, GrantControl.CompliantDevice)).Reason);
    }

    [Fact]
    public void Decide_HomeTenantWithoutPartnerEntry_UsesDefault()
    {
        var defaults = Default(Setting(Allowed(AllUsers()), Allowed(App(Ids.A1))));
        var snapshot = Compile(Document(defaults, Partner(Ids.PartnerTenant, AllowAll())));
        var stranger = Tokens.Read(Tokens.Member(Ids.UnknownTenant));

        var toA1 = snapshot.Decide(stranger, AppPolicy.Open(Ids.A1));
        var toA2 = snapshot.Decide(stranger, AppPolicy.Open(Ids.A2));

        Assert.Equal((DecisionReason.Allowed, SettingsSource.Default, Ids.UnknownTenant), (toA1.Reason, toA1.Source, toA1.HomeTenantId));
        Assert.Equal((DecisionReason.InboundPolicyBlocked, SettingsSource.Default), (toA2.Reason, toA2.Source));
    }

    [Fact]
    public void Compile_PartnerRemoved_HomeTenantReturnsToDefault()
    {
        var document = ParseValid(Document(
            Default(AllowAll()),
            Partner(Ids.PartnerTenant, BlockAll()),
            Partner(Ids.OtherPartnerTenant, BlockAll())));
        var caller = Tokens.Read(Tokens.Member(Ids.PartnerTenant));
        var otherCaller = Tokens.Read(Tokens.Member(Ids.OtherPartnerTenant));

        var before = PolicyCompiler.Compile(document, Ids.ResourceTenant).Decide(caller, AppPolicy.Open(Ids.A1));
        var removed = document with { Partners = [.. document.Partners.Where(p => p.TenantId != Ids.PartnerTenant.ToString())] };
        var after = PolicyCompiler.Compile(removed, Ids.ResourceTenant);

        Assert.Equal((DecisionReason.InboundPolicyBlocked, SettingsSource.Partner), (before.Reason, before.Source));
        Assert.Equal(1, after.PartnerCount);
        var decision = after.Decide(caller, AppPolicy.Open(Ids.A1));
        Assert.Equal((DecisionReason.Allowed, SettingsSource.Default), (decision.Reason, decision.Source));
        var stillPartner = after.Decide(otherCaller, AppPolicy.Open(Ids.A1));
        Assert.Equal((DecisionReason.InboundPolicyBlocked, SettingsSource.Partner), (stillPartner.Reason, stillPartner.Source));
    }

    [Fact]
    public void Compile_DefaultWithoutDirectConnectInbound_FallsBackToServiceDefaultBlock()
    {
        var defaults = Default();
        defaults.Remove("b2bDirectConnectInbound");
        var snapshot = Compile(Document(defaults));

        var decision = snapshot.Decide(Tokens.Read(Tokens.Member(Ids.PartnerTenant)), AppPolicy.Open(Ids.A1));

        Assert.Equal((DecisionReason.InboundPolicyBlocked, SettingsSource.Default), (decision.Reason, decision.Source));
    }
}
