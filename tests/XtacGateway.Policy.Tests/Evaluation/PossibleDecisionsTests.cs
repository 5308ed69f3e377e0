using XtacGateway.Policy.Claims;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Evaluation;
using static XtacGateway.Policy.Tests.PolicyJson;

namespace XtacGateway.Policy.Tests.Evaluation;

/// <summary>
/// <see cref="PolicySnapshot.PossibleDecisions"/> is what telemetry reports from zero, so it must be exactly what
/// deciding can give: a pair it leaves out is born at one on a dashboard, a pair deciding never gives is a series of
/// nonsense. Checked against every combination of caller facts, under policies whose
/// default allows and blocks and whose partner names users or groups.
/// </summary>
public sealed class PossibleDecisionsTests
{
    public static TheoryData<string, GrantOperator, GrantControl[]> Apps() => new()
    {
        { "open", GrantOperator.Or, [] },
        { "mfa", GrantOperator.Or, [GrantControl.Mfa] },
        { "mfa or device", GrantOperator.Or, [GrantControl.Mfa, GrantControl.CompliantDevice] },
        { "all three", GrantOperator.And, [GrantControl.Mfa, GrantControl.CompliantDevice, GrantControl.DomainJoinedDevice] },
        { "mfa twice", GrantOperator.And, [GrantControl.Mfa, GrantControl.Mfa] },
        { "block", GrantOperator.Or, [GrantControl.Block] },
        { "mfa and block", GrantOperator.And, [GrantControl.Mfa, GrantControl.Block] },
    };

    [Theory]
    [MemberData(nameof(Apps))]
    public void PossibleDecisions_EveryCallerAndPolicy_ExactlyWhatDecidingGives(string name, GrantOperator grantOperator, GrantControl[] controls)
    {
        var app = AppPolicy.Create(Ids.A1, grantOperator, controls);
        var trustAll = Trust(true, true, true);
        var byUser = Setting(Allowed(User(Ids.U1)), Allowed(AllApplications()));
        var byGroup = Setting(Allowed(Group(Ids.G1)), Allowed(AllApplications()));
        PolicySnapshot[] snapshots =
        [
            Compile(Document(Default(AllowAll(), trustAll), Partner(Ids.PartnerTenant, byUser, trustAll))),
            Compile(Document(Default(BlockAll(), trustAll), Partner(Ids.PartnerTenant, byGroup, trustAll))),
        ];

        var given = new HashSet<(DecisionReason, SettingsSource)>();
        foreach (var caller in Callers())
        {
            given.Add(Pair(PolicySnapshot.DecideWithoutPolicy(caller, app, Ids.ResourceTenant)));
            foreach (var snapshot in snapshots)
            {
                given.Add(Pair(snapshot.Decide(caller, app)));
            }
        }

        var possible = PolicySnapshot.PossibleDecisions(app);
        Assert.Equal(possible.Count, possible.Distinct().Count());
        Assert.True(given.SetEquals(possible),
            $"App '{name}': deciding gives but not listed: [{string.Join(", ", given.Except(possible))}]; " +
            $"listed but never given: [{string.Join(", ", possible.Except(given))}].");
    }

    private static (DecisionReason, SettingsSource) Pair(Decision decision) => (decision.Reason, decision.Source);

    private static IEnumerable<CallerFacts> Callers()
    {
        bool[] noYes = [false, true];
        foreach (var status in Enum.GetValues<HomeTenantStatus>())
        foreach (var home in (Guid[])[Ids.ResourceTenant, Ids.PartnerTenant, Ids.UnknownTenant])
        foreach (var issuer in (Guid?[])[home, Ids.ResourceTenant, null])
        foreach (var guest in noYes)
        foreach (var objectId in (Guid?[])[Ids.U1, Ids.U2, null])
        foreach (var groups in (Guid[][])[[], [Ids.G1]])
        foreach (var overage in noYes)
        foreach (var mfa in noYes)
        foreach (var compliant in noYes)
        foreach (var hybrid in noYes)
        {
            yield return new CallerFacts
            {
                Status = status,
                HomeTenantId = home,
                TokenTenantId = issuer,
                IsGuest = guest,
                UserObjectId = objectId,
                Groups = groups,
                GroupsOverage = overage,
                MultifactorAuthenticated = mfa,
                CompliantDevice = compliant,
                HybridJoinedDevice = hybrid,
            };
        }
    }
}
