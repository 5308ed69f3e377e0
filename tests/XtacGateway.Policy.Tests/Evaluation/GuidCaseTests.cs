using System.Text.Json.Nodes;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Evaluation;
using static XtacGateway.Policy.Tests.PolicyJson;

namespace XtacGateway.Policy.Tests.Evaluation;

/// <summary>
/// Domain rules sections 2, 4 and 6: a GUID names the same tenant, user, group or application whatever the case of its
/// hex digits. Graph writes lower case; hand-written policies, other token issuers and route settings may not.
/// </summary>
public sealed class GuidCaseTests
{
    // The shared tenant IDs are all digits and read the same in either case; this one has letters.
    private static readonly Guid s_letteredTenant = new("abcdefab-cdef-4abc-8def-abcdefabcdef");

    [Theory]
    [InlineData(true, "allowed")]
    [InlineData(true, "blocked")]
    [InlineData(false, "allowed")]
    [InlineData(false, "blocked")]
    public void Decide_PartnerTenantIdInOtherCaseThanTid_PartnerSettingsApply(bool policyUpper, string accessType)
    {
        var allowed = accessType == "allowed";
        var tenant = Spell(s_letteredTenant, policyUpper);
        var partner = Partner(s_letteredTenant, allowed ? AllowAll() : BlockAll());
        partner["tenantId"] = tenant.Policy;
        // The default says the opposite of the partner, so a lookup that missed the partner gives the other outcome.
        var snapshot = Compile(Document(Default(allowed ? BlockAll() : AllowAll()), partner));
        var caller = Tokens.Read(Tokens.Member(s_letteredTenant)
            .With("tid", tenant.Caller)
            .With("iss", $"https://sts.windows.net/{tenant.Caller}/"));

        var decision = snapshot.Decide(caller, AppPolicy.Open(Ids.A1));

        Assert.Equal((Inbound(allowed), SettingsSource.Partner, s_letteredTenant), (decision.Reason, decision.Source, decision.HomeTenantId));
    }

    [Theory]
    [InlineData(true, "allowed")]
    [InlineData(true, "blocked")]
    [InlineData(false, "allowed")]
    [InlineData(false, "blocked")]
    public void Decide_GroupTargetInOtherCaseThanGroupsClaim_Matches(bool policyUpper, string accessType)
    {
        var g1 = Spell(Ids.G1, policyUpper);
        var snapshot = PartnerSnapshot(Setting(Half(accessType, Target(g1.Policy, "group")), Half(accessType, AllApplications())));
        var member = Tokens.Read(Tokens.Member(Ids.PartnerTenant, Ids.U1).With("groups", Tokens.Array(g1.Caller)));
        var nonMember = Tokens.Read(Tokens.Member(Ids.PartnerTenant, Ids.U2).With("groups", Tokens.Groups(Ids.G2)));

        AssertListedAndUnlisted(
            accessType,
            snapshot.Decide(member, AppPolicy.Open(Ids.A1)),
            snapshot.Decide(nonMember, AppPolicy.Open(Ids.A1)));
    }

    [Theory]
    [InlineData(true, "allowed")]
    [InlineData(true, "blocked")]
    [InlineData(false, "allowed")]
    [InlineData(false, "blocked")]
    public void Decide_UserTargetInOtherCaseThanOid_Matches(bool policyUpper, string accessType)
    {
        var u1 = Spell(Ids.U1, policyUpper);
        var snapshot = PartnerSnapshot(Setting(Half(accessType, Target(u1.Policy, "user")), Half(accessType, AllApplications())));
        var listed = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("oid", u1.Caller));
        var unlisted = Tokens.Read(Tokens.Member(Ids.PartnerTenant, Ids.U2));

        AssertListedAndUnlisted(
            accessType,
            snapshot.Decide(listed, AppPolicy.Open(Ids.A1)),
            snapshot.Decide(unlisted, AppPolicy.Open(Ids.A1)));
    }

    [Theory]
    [InlineData(true, "allowed")]
    [InlineData(true, "blocked")]
    [InlineData(false, "allowed")]
    [InlineData(false, "blocked")]
    public void Decide_ApplicationTargetInOtherCaseThanRouteAppId_Matches(bool policyUpper, string accessType)
    {
        var a1 = Spell(Ids.A1, policyUpper);
        var snapshot = PartnerSnapshot(Setting(Allowed(AllUsers()), Half(accessType, Target(a1.Policy, "application"))));
        var caller = Tokens.Read(Tokens.Member(Ids.PartnerTenant));
        // The app ID as a route's settings give it, in text.
        var errors = new List<string>();
        var app = AppPolicy.TryCreate(a1.Caller, grantOperator: null, [], errors);
        Assert.Empty(errors);
        Assert.NotNull(app);

        AssertListedAndUnlisted(accessType, snapshot.Decide(caller, app), snapshot.Decide(caller, AppPolicy.Open(Ids.A2)));
    }

    /// <summary>The ID as the policy spells it and as the caller's side spells it: the same GUID, the other case.</summary>
    private static (string Policy, string Caller) Spell(Guid id, bool policyUpper)
    {
        var lower = id.ToString();
        var upper = lower.ToUpperInvariant();
        // A GUID of digits alone reads the same in both cases and would prove nothing.
        Assert.NotEqual(lower, upper);
        return policyUpper ? (upper, lower) : (lower, upper);
    }

    private static DecisionReason Inbound(bool allowed) => allowed ? DecisionReason.Allowed : DecisionReason.InboundPolicyBlocked;

    /// <summary>What the listed ID gets follows the access type; an unlisted one gets the opposite, so "all match" fails too.</summary>
    private static void AssertListedAndUnlisted(string accessType, Decision listed, Decision unlisted)
    {
        var allowed = accessType == "allowed";
        Assert.Equal((Inbound(allowed), SettingsSource.Partner), (listed.Reason, listed.Source));
        Assert.Equal((Inbound(!allowed), SettingsSource.Partner), (unlisted.Reason, unlisted.Source));
    }
}
