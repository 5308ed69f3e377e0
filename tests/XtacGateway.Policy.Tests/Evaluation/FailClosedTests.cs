using System.Text.Json.Nodes;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Evaluation;
using static XtacGateway.Policy.Tests.PolicyJson;

namespace XtacGateway.Policy.Tests.Evaluation;

/// <summary>Domain rules sections 6 and 6a: the "cannot tell" reasons, decided from real claims.</summary>
public sealed class FailClosedTests
{
    [Fact]
    public void Decide_GuestWithoutHomeOidMeetsSpecificUsers_HomeIdentityUnavailable()
    {
        var snapshot = PartnerSnapshot(Setting(Allowed(User(Ids.U1)), Allowed(AllApplications())));
        var guest = Tokens.Read(Tokens.Guest(Ids.ResourceTenant, Ids.PartnerTenant, homeObjectId: null));

        var decision = snapshot.Decide(guest, AppPolicy.Open(Ids.A1));

        AssertCannotTell(DecisionReason.HomeIdentityUnavailable, decision);
    }

    [Fact]
    public void Decide_GuestWithoutHomeOidMeetsBlockedSpecificUsers_HomeIdentityUnavailable()
    {
        var snapshot = PartnerSnapshot(Setting(Blocked(User(Ids.U1)), Blocked(AllApplications())));
        var guest = Tokens.Read(Tokens.Guest(Ids.ResourceTenant, Ids.PartnerTenant, homeObjectId: null));

        AssertCannotTell(DecisionReason.HomeIdentityUnavailable, snapshot.Decide(guest, AppPolicy.Open(Ids.A1)));
    }

    [Theory]
    [InlineData("allowed")]
    [InlineData("blocked")]
    public void Decide_MemberWithoutOidMeetsSpecificUsers_HomeIdentityUnavailable(string accessType)
    {
        // An app-only or stripped token of the home tenant: with no object ID, "blocked u1" cannot be told from "not u1".
        var snapshot = PartnerSnapshot(Setting(Half(accessType, User(Ids.U1)), Half(accessType, AllApplications())));
        var member = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("oid", null));

        AssertCannotTell(DecisionReason.HomeIdentityUnavailable, snapshot.Decide(member, AppPolicy.Open(Ids.A1)));
    }

    [Fact]
    public void Decide_MemberMeetsBlockedSpecificUsers_BlockedOnlyTheListedUser()
    {
        var snapshot = PartnerSnapshot(Setting(Blocked(User(Ids.U1)), Blocked(AllApplications())));

        var listed = snapshot.Decide(Tokens.Read(Tokens.Member(Ids.PartnerTenant, Ids.U1)), AppPolicy.Open(Ids.A1));
        var other = snapshot.Decide(Tokens.Read(Tokens.Member(Ids.PartnerTenant, Ids.U2)), AppPolicy.Open(Ids.A1));

        Assert.Equal((DecisionReason.InboundPolicyBlocked, SettingsSource.Partner), (listed.Reason, listed.Source));
        Assert.Equal((DecisionReason.Allowed, SettingsSource.Partner), (other.Reason, other.Source));
    }

    [Fact]
    public void Decide_GuestWithGroupsOverageMeetsSpecificGroups_HomeIdentityUnavailableFirst()
    {
        // Section 6a: a guest's groups could never answer, overage or not, so the home identity is what is missing.
        var snapshot = PartnerSnapshot(Setting(Allowed(Group(Ids.G1)), Allowed(AllApplications())));
        var guest = Tokens.Read(Tokens.Guest(Ids.ResourceTenant, Ids.PartnerTenant, homeObjectId: Ids.U1).With("hasgroups", true));

        AssertCannotTell(DecisionReason.HomeIdentityUnavailable, snapshot.Decide(guest, AppPolicy.Open(Ids.A1)));
    }

    [Fact]
    public void Decide_GuestWithHomeOidMeetsSpecificUsers_DecidedOnHomeOid()
    {
        var snapshot = PartnerSnapshot(Setting(Allowed(User(Ids.U1)), Allowed(AllApplications())));
        var listed = Tokens.Read(Tokens.Guest(Ids.ResourceTenant, Ids.PartnerTenant, homeObjectId: Ids.U1));
        var unlisted = Tokens.Read(Tokens.Guest(Ids.ResourceTenant, Ids.PartnerTenant, homeObjectId: Ids.U2));

        Assert.Equal(DecisionReason.Allowed, snapshot.Decide(listed, AppPolicy.Open(Ids.A1)).Reason);
        Assert.Equal(DecisionReason.InboundPolicyBlocked, snapshot.Decide(unlisted, AppPolicy.Open(Ids.A1)).Reason);
    }

    [Theory]
    [InlineData("allowed")]
    [InlineData("blocked")]
    public void Decide_GuestMeetsSpecificGroups_HomeIdentityUnavailableEvenWithHomeOid(string accessType)
    {
        var snapshot = PartnerSnapshot(Setting(Half(accessType, Group(Ids.G1)), Half(accessType, AllApplications())));
        // The guest's groups claim lists g1, but those are the resource tenant's groups, not the home tenant's.
        var guest = Tokens.Read(Tokens.Guest(Ids.ResourceTenant, Ids.PartnerTenant, homeObjectId: Ids.U1)
            .With("groups", Tokens.Groups(Ids.G1)));

        AssertCannotTell(DecisionReason.HomeIdentityUnavailable, snapshot.Decide(guest, AppPolicy.Open(Ids.A1)));
    }

    [Fact]
    public void Decide_GuestMeetsAllUsersOnly_DecidedNormally()
    {
        var snapshot = PartnerSnapshot(Setting(Allowed(AllUsers()), Allowed(App(Ids.A1))));
        var guest = Tokens.Read(Tokens.Guest(Ids.ResourceTenant, Ids.PartnerTenant, homeObjectId: null));

        var toA1 = snapshot.Decide(guest, AppPolicy.Open(Ids.A1));
        var toA2 = snapshot.Decide(guest, AppPolicy.Open(Ids.A2));

        Assert.Equal((DecisionReason.Allowed, SettingsSource.Partner, Ids.PartnerTenant), (toA1.Reason, toA1.Source, toA1.HomeTenantId));
        Assert.Equal(DecisionReason.InboundPolicyBlocked, toA2.Reason);
    }

    [Theory]
    [InlineData("allowed")]
    [InlineData("blocked")]
    public void Decide_GroupOverageMeetsSpecificGroups_GroupMembershipUnavailable(string accessType)
    {
        var snapshot = PartnerSnapshot(Setting(Half(accessType, Group(Ids.G1)), Half(accessType, AllApplications())));
        var caller = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("_claim_names", new JsonObject { ["groups"] = "src1" }));

        AssertCannotTell(DecisionReason.GroupMembershipUnavailable, snapshot.Decide(caller, AppPolicy.Open(Ids.A1)));
    }

    [Fact]
    public void Decide_HasGroupsOverageMeetsSpecificGroups_GroupMembershipUnavailable()
    {
        var snapshot = PartnerSnapshot(Setting(Allowed(User(Ids.U2), Group(Ids.G1)), Allowed(AllApplications())));
        var caller = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("hasgroups", true));

        AssertCannotTell(DecisionReason.GroupMembershipUnavailable, snapshot.Decide(caller, AppPolicy.Open(Ids.A1)));
    }

    [Theory]
    [InlineData("blocked")]
    [InlineData("allowed")]
    public void Decide_GroupsNamedOtherThanByObjectId_GroupMembershipUnavailable(string accessType)
    {
        // An app set to emit sAMAccountNames or SIDs: the member of the blocked G1 must not pass as a member of nothing.
        var snapshot = PartnerSnapshot(Setting(Half(accessType, Group(Ids.G1)), Half(accessType, AllApplications())));
        var caller = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("groups", Tokens.Array(Ids.G2.ToString(), "contoso-finance")));

        AssertCannotTell(DecisionReason.GroupMembershipUnavailable, snapshot.Decide(caller, AppPolicy.Open(Ids.A1)));
    }

    [Fact]
    public void Decide_GroupsNamedOtherThanByObjectIdWithAllUsersOnly_DecidedNormally()
    {
        var snapshot = PartnerSnapshot(Setting(Allowed(AllUsers()), Allowed(App(Ids.A1))));
        var caller = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("groups", Tokens.Array("contoso-finance")));

        Assert.Equal(DecisionReason.Allowed, snapshot.Decide(caller, AppPolicy.Open(Ids.A1)).Reason);
    }

    [Fact]
    public void Decide_GroupOverageWithAllUsersOnly_DecidedNormally()
    {
        var snapshot = PartnerSnapshot(Setting(Allowed(AllUsers()), Allowed(App(Ids.A1))));
        var caller = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("_claim_names", new JsonObject { ["groups"] = "src1" }));

        Assert.Equal(DecisionReason.Allowed, snapshot.Decide(caller, AppPolicy.Open(Ids.A1)).Reason);
        Assert.Equal(DecisionReason.InboundPolicyBlocked, snapshot.Decide(caller, AppPolicy.Open(Ids.A2)).Reason);
    }

    [Fact]
    public void Decide_GroupOverageWithSpecificUsersOnly_DecidedNormally()
    {
        var snapshot = PartnerSnapshot(Setting(Allowed(User(Ids.U1)), Allowed(AllApplications())));
        var caller = Tokens.Read(Tokens.Member(Ids.PartnerTenant, Ids.U1).With("hasgroups", true));

        Assert.Equal(DecisionReason.Allowed, snapshot.Decide(caller, AppPolicy.Open(Ids.A1)).Reason);
    }

    [Theory]
    [InlineData("live.com")]
    [InlineData("https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/")]
    public void Decide_MicrosoftAccount_UnsupportedIdentityProvider(string idp)
    {
        // Even a default that allows everyone cannot admit a Microsoft account.
        var snapshot = Compile(Document(Default(AllowAll())));
        var caller = Tokens.Read(Tokens.Member(Ids.ResourceTenant).With("idp", idp));

        var decision = snapshot.Decide(caller, AppPolicy.Open(Ids.A1));

        Assert.Equal((DecisionReason.UnsupportedIdentityProvider, SettingsSource.None), (decision.Reason, decision.Source));
        Assert.False(decision.IsAllowed);
        Assert.Null(decision.ErrorCode);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("not-a-tenant")]
    public void Decide_NoUsableTid_UnknownHomeTenant(string? tid)
    {
        var snapshot = Compile(Document(Default(AllowAll())));
        var claims = Tokens.Member(Ids.PartnerTenant);
        claims.Remove("tid");
        if (tid is not null)
        {
            claims["tid"] = tid;
        }

        var decision = snapshot.Decide(Tokens.Read(claims), AppPolicy.Open(Ids.A1));

        Assert.Equal((DecisionReason.UnknownHomeTenant, SettingsSource.None, (Guid?)null), (decision.Reason, decision.Source, decision.HomeTenantId));
        Assert.False(decision.IsAllowed);
        Assert.Null(decision.ErrorCode);
    }

    [Theory]
    [InlineData("allowed", true)]
    [InlineData("allowed", false)]
    [InlineData("blocked", true)]
    [InlineData("blocked", false)]
    public void Decide_GroupOverageMeetsAllUsersBesideGroup_GroupMembershipUnavailable(string accessType, bool allUsersFirst)
    {
        var snapshot = PartnerSnapshot(Setting(AllUsersBeside(accessType, Group(Ids.G1), allUsersFirst), Half(accessType, AllApplications())));
        var overage = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("_claim_names", new JsonObject { ["groups"] = "src1" }));
        var readable = Tokens.Read(Tokens.Member(Ids.PartnerTenant).With("groups", Tokens.Groups(Ids.G2)));

        AssertCannotTell(DecisionReason.GroupMembershipUnavailable, snapshot.Decide(overage, AppPolicy.Open(Ids.A1)));

        // Groups that can be read leave AllUsers to decide: let in when allowed, kept out when blocked.
        var decided = snapshot.Decide(readable, AppPolicy.Open(Ids.A1));
        Assert.Equal(accessType == "allowed" ? DecisionReason.Allowed : DecisionReason.InboundPolicyBlocked, decided.Reason);
    }

    [Theory]
    [InlineData("allowed", true)]
    [InlineData("allowed", false)]
    [InlineData("blocked", true)]
    [InlineData("blocked", false)]
    public void Decide_GuestMeetsAllUsersBesideGroup_HomeIdentityUnavailable(string accessType, bool allUsersFirst)
    {
        var snapshot = PartnerSnapshot(Setting(AllUsersBeside(accessType, Group(Ids.G1), allUsersFirst), Half(accessType, AllApplications())));
        // The guest has home_oid, so only the group (whose membership a guest token cannot show) is left to fail on.
        var guest = Tokens.Read(Tokens.Guest(Ids.ResourceTenant, Ids.PartnerTenant, homeObjectId: Ids.U1).With("groups", Tokens.Groups(Ids.G1)));

        AssertCannotTell(DecisionReason.HomeIdentityUnavailable, snapshot.Decide(guest, AppPolicy.Open(Ids.A1)));
    }

    [Theory]
    [InlineData("allowed", true)]
    [InlineData("allowed", false)]
    [InlineData("blocked", true)]
    [InlineData("blocked", false)]
    public void Decide_GuestWithoutHomeOidMeetsAllUsersBesideUser_HomeIdentityUnavailable(string accessType, bool allUsersFirst)
    {
        var snapshot = PartnerSnapshot(Setting(AllUsersBeside(accessType, User(Ids.U1), allUsersFirst), Half(accessType, AllApplications())));
        var guest = Tokens.Read(Tokens.Guest(Ids.ResourceTenant, Ids.PartnerTenant, homeObjectId: null));

        AssertCannotTell(DecisionReason.HomeIdentityUnavailable, snapshot.Decide(guest, AppPolicy.Open(Ids.A1)));
    }

    /// <summary>A usersAndGroups half listing AllUsers and <paramref name="specific"/>, in either order.</summary>
    private static JsonObject AllUsersBeside(string accessType, JsonObject specific, bool allUsersFirst)
    {
        JsonObject[] targets = allUsersFirst ? [AllUsers(), specific] : [specific, AllUsers()];
        return Half(accessType, targets);
    }

    private static void AssertCannotTell(DecisionReason expected, Decision decision)
    {
        Assert.Equal(expected, decision.Reason);
        Assert.Equal(SettingsSource.Partner, decision.Source);
        Assert.Equal(Ids.PartnerTenant, decision.HomeTenantId);
        Assert.False(decision.IsAllowed);
        Assert.Null(decision.ErrorCode);
    }
}
