using System.Text.Json.Nodes;
using XtacGateway.Policy.Evaluation;
using static XtacGateway.Policy.Tests.PolicyJson;

namespace XtacGateway.Policy.Tests.Evaluation;

/// <summary>Domain rules section 4: the inbound B2B direct connect rule, row by row of Graph's interpretation table.</summary>
public sealed class InboundDirectConnectTests
{
    // The default allows everyone to a2 only: its outcomes (deny, allow, deny, allow) match no row of the table,
    // so a decision that fell back to the default instead of the partner's setting fails every row.
    private static readonly JsonObject s_default = Default(Setting(Allowed(AllUsers()), Allowed(App(Ids.A2))));

    [Theory]
    //          usersAndGroups          applications                  g1+a1  g1+a2  other+a1 other+a2
    [InlineData("blocked", "AllUsers", "blocked", "AllApplications", false, false, false, false)] // everyone blocked
    [InlineData("allowed", "AllUsers", "allowed", "AllApplications", true, true, true, true)] // everyone allowed
    [InlineData("allowed", "g1", "allowed", "AllApplications", true, true, false, false)] // g1 members, any app; others blocked
    [InlineData("allowed", "AllUsers", "allowed", "a1", true, false, true, false)] // everyone, only a1
    [InlineData("allowed", "g1", "blocked", "a1", false, true, false, false)] // g1 members, every app but a1; others blocked
    [InlineData("blocked", "g1", "blocked", "AllApplications", false, false, true, true)] // g1 blocked from all; others allowed to all
    [InlineData("blocked", "g1", "allowed", "a1", false, false, true, false)] // g1 blocked from all; others only a1
    [InlineData("allowed", "g1", "allowed", "a1", true, false, false, false)] // only g1 members, only a1
    [InlineData("blocked", "g1", "blocked", "a1", false, true, true, true)] // only the pair (g1, a1) is blocked
    public void Decide_GraphInterpretationTableRow_MatchesPublishedResult(
        string usersAccess,
        string usersTarget,
        string appsAccess,
        string appsTarget,
        bool memberToA1,
        bool memberToA2,
        bool nonMemberToA1,
        bool nonMemberToA2)
    {
        var users = Half(usersAccess, usersTarget == "g1" ? Group(Ids.G1) : AllUsers());
        var apps = Half(appsAccess, appsTarget == "a1" ? App(Ids.A1) : AllApplications());
        var snapshot = Compile(Document(s_default, Partner(Ids.PartnerTenant, Setting(users, apps))));

        // The member lists g1 after another group; the non-member is in another group only.
        var member = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("groups", Tokens.Groups(Ids.G2, Ids.G1)));
        var nonMember = Tokens.Read(Tokens.Member(Ids.PartnerTenant, Ids.U2).With("groups", Tokens.Groups(Ids.G2)));

        AssertInbound(memberToA1, snapshot.Decide(member, AppPolicy.Open(Ids.A1)));
        AssertInbound(memberToA2, snapshot.Decide(member, AppPolicy.Open(Ids.A2)));
        AssertInbound(nonMemberToA1, snapshot.Decide(nonMember, AppPolicy.Open(Ids.A1)));
        AssertInbound(nonMemberToA2, snapshot.Decide(nonMember, AppPolicy.Open(Ids.A2)));
    }

    [Fact]
    public void Decide_PartnerAllowsSpecificUser_AdmitsOnlyThatUser()
    {
        var snapshot = Compile(Document(Default(), Partner(Ids.PartnerTenant, Setting(Allowed(User(Ids.U1)), Allowed(AllApplications())))));

        var allowed = snapshot.Decide(Tokens.Read(Tokens.Member(Ids.PartnerTenant, Ids.U1)), AppPolicy.Open(Ids.A1));
        var other = snapshot.Decide(Tokens.Read(Tokens.Member(Ids.PartnerTenant, Ids.U2)), AppPolicy.Open(Ids.A1));

        Assert.Equal(DecisionReason.Allowed, allowed.Reason);
        Assert.Equal(DecisionReason.InboundPolicyBlocked, other.Reason);
    }

    [Fact]
    public void Decide_PartnerListsManyGroupsAndApps_MatchesAnyOfThem()
    {
        // More targets than a linear scan holds, so the compiled sets switch to hashing.
        var groups = Enumerable.Range(1, 12).Select(i => new Guid($"eeeeeeee-0000-4000-8000-{i:x12}")).ToArray();
        var apps = Enumerable.Range(1, 12).Select(i => new Guid($"ffffffff-0000-4000-8000-{i:x12}")).ToArray();
        var setting = Setting(Allowed([.. groups.Select(Group)]), Allowed([.. apps.Select(App)]));
        var snapshot = Compile(Document(Default(), Partner(Ids.PartnerTenant, setting)));
        var inLastGroup = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("groups", Tokens.Groups(Ids.G2, groups[^1])));
        var inNoGroup = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("groups", Tokens.Groups(Ids.G2)));

        Assert.Equal(DecisionReason.Allowed, snapshot.Decide(inLastGroup, AppPolicy.Open(apps[^1])).Reason);
        Assert.Equal(DecisionReason.Allowed, snapshot.Decide(inLastGroup, AppPolicy.Open(apps[5])).Reason);
        Assert.Equal(DecisionReason.InboundPolicyBlocked, snapshot.Decide(inLastGroup, AppPolicy.Open(Ids.A1)).Reason);
        Assert.Equal(DecisionReason.InboundPolicyBlocked, snapshot.Decide(inNoGroup, AppPolicy.Open(apps[0])).Reason);
    }

    [Theory]
    [InlineData("Office365")]
    [InlineData("AllMicrosoftApps")]
    public void Decide_MicrosoftAppKeyword_NeverMatchesInternalApp(string keyword)
    {
        var allowedOnlyMicrosoft = Partner(Ids.PartnerTenant, Setting(Allowed(AllUsers()), Allowed(Target(keyword, "application"))));
        var blockedOnlyMicrosoft = Partner(Ids.OtherPartnerTenant, Setting(Blocked(Group(Ids.G1)), Blocked(Target(keyword, "application"))));
        var snapshot = Compile(Document(Default(), allowedOnlyMicrosoft, blockedOnlyMicrosoft));
        var groups = Tokens.Groups(Ids.G1);

        var viaAllowList = snapshot.Decide(Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("groups", groups)), AppPolicy.Open(Ids.A1));
        var viaBlockList = snapshot.Decide(Tokens.Read(Tokens.Member(Ids.OtherPartnerTenant).With("groups", groups.DeepClone())), AppPolicy.Open(Ids.A1));

        Assert.Equal(DecisionReason.InboundPolicyBlocked, viaAllowList.Reason);
        Assert.Equal(DecisionReason.Allowed, viaBlockList.Reason);
    }

    [Theory]
    //          usersAndGroups          applications                  u1+a1  u1+a2  other+a1 other+a2
    [InlineData("blocked", "AllUsers", "blocked", "AllApplications", false, false, false, false)] // everyone blocked
    [InlineData("allowed", "AllUsers", "allowed", "AllApplications", true, true, true, true)] // everyone allowed
    [InlineData("allowed", "u1", "allowed", "AllApplications", true, true, false, false)] // u1, any app; others blocked
    [InlineData("allowed", "AllUsers", "allowed", "a1", true, false, true, false)] // everyone, only a1
    [InlineData("allowed", "u1", "blocked", "a1", false, true, false, false)] // u1, every app but a1; others blocked
    [InlineData("blocked", "u1", "blocked", "AllApplications", false, false, true, true)] // u1 blocked from all; others allowed to all
    [InlineData("blocked", "u1", "allowed", "a1", false, false, true, false)] // u1 blocked from all; others only a1
    [InlineData("allowed", "u1", "allowed", "a1", true, false, false, false)] // only u1, only a1
    [InlineData("blocked", "u1", "blocked", "a1", false, true, true, true)] // only the pair (u1, a1) is blocked
    public void Decide_GraphInterpretationTableRowWithUserTarget_MatchesPublishedResult(
        string usersAccess,
        string usersTarget,
        string appsAccess,
        string appsTarget,
        bool u1ToA1,
        bool u1ToA2,
        bool otherToA1,
        bool otherToA2)
    {
        var users = Half(usersAccess, usersTarget == "u1" ? User(Ids.U1) : AllUsers());
        var apps = Half(appsAccess, appsTarget == "a1" ? App(Ids.A1) : AllApplications());
        var snapshot = Compile(Document(s_default, Partner(Ids.PartnerTenant, Setting(users, apps))));

        // The other caller's groups claim carries u1's GUID: a user target matches the object ID, not a group.
        var u1 = Tokens.Read(Tokens.Member(Ids.PartnerTenant, Ids.U1).With("groups", Tokens.Groups(Ids.G2)));
        var other = Tokens.Read(Tokens.Member(Ids.PartnerTenant, Ids.U2).With("groups", Tokens.Groups(Ids.G2, Ids.U1)));

        AssertInbound(u1ToA1, snapshot.Decide(u1, AppPolicy.Open(Ids.A1)));
        AssertInbound(u1ToA2, snapshot.Decide(u1, AppPolicy.Open(Ids.A2)));
        AssertInbound(otherToA1, snapshot.Decide(other, AppPolicy.Open(Ids.A1)));
        AssertInbound(otherToA2, snapshot.Decide(other, AppPolicy.Open(Ids.A2)));
    }

    private static void AssertInbound(bool expectAllowed, Decision decision)
    {
        Assert.Equal(expectAllowed ? DecisionReason.Allowed : DecisionReason.InboundPolicyBlocked, decision.Reason);
        Assert.Equal(SettingsSource.Partner, decision.Source);
        Assert.Equal(Ids.PartnerTenant, decision.HomeTenantId);
        Assert.Equal(expectAllowed ? null : "AADSTS500213", decision.ErrorCode);
    }
}
