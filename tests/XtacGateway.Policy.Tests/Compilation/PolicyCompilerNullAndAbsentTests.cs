using System.Text;
using System.Text.Json.Nodes;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Evaluation;
using static XtacGateway.Policy.Tests.PolicyJson;

namespace XtacGateway.Policy.Tests.Compilation;

/// <summary>
/// Domain rules section 3: a key given as null and a key left out mean the same (taken from the default; for the
/// default's own trust, false). Each case is compiled from the typed document and from bytes, as the file and Redis
/// sources compile it.
/// </summary>
public sealed class PolicyCompilerNullAndAbsentTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Compile_PartnerUsersAndGroupsExplicitNull_TakesDefaultHalf(bool fromBytes)
    {
        var defaults = Default(Setting(Allowed(AllUsers()), Allowed(App(Ids.A1))));
        var setting = Setting(usersAndGroups: null, Allowed(App(Ids.A2)));
        setting["usersAndGroups"] = null;
        var document = Document(defaults, Partner(Ids.PartnerTenant, setting));
        // Setting leaves a null half out; this document must say null.
        Assert.Contains("\"usersAndGroups\":null", document.ToJsonString(), StringComparison.Ordinal);
        var snapshot = CompileVia(document, fromBytes);
        var caller = Tokens.Read(Tokens.Member(Ids.PartnerTenant));

        var toA2 = snapshot.Decide(caller, AppPolicy.Open(Ids.A2));
        var toA1 = snapshot.Decide(caller, AppPolicy.Open(Ids.A1));

        // Users from the default (everyone), applications from the partner (only a2).
        Assert.Equal((DecisionReason.Allowed, SettingsSource.Partner), (toA2.Reason, toA2.Source));
        Assert.Equal((DecisionReason.InboundPolicyBlocked, SettingsSource.Partner), (toA1.Reason, toA1.Source));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Compile_PartnerApplicationsExplicitNull_TakesDefaultHalf(bool fromBytes)
    {
        var defaults = Default(Setting(Allowed(AllUsers()), Allowed(App(Ids.A1))));
        var setting = Setting(Allowed(User(Ids.U1)), applications: null);
        setting["applications"] = null;
        var document = Document(defaults, Partner(Ids.PartnerTenant, setting));
        Assert.Contains("\"applications\":null", document.ToJsonString(), StringComparison.Ordinal);
        var snapshot = CompileVia(document, fromBytes);
        var u1 = Tokens.Read(Tokens.Member(Ids.PartnerTenant, Ids.U1));
        var u2 = Tokens.Read(Tokens.Member(Ids.PartnerTenant, Ids.U2));

        // Users from the partner (only u1), applications from the default (only a1).
        Assert.Equal(DecisionReason.Allowed, snapshot.Decide(u1, AppPolicy.Open(Ids.A1)).Reason);
        Assert.Equal(DecisionReason.InboundPolicyBlocked, snapshot.Decide(u1, AppPolicy.Open(Ids.A2)).Reason);
        Assert.Equal(DecisionReason.InboundPolicyBlocked, snapshot.Decide(u2, AppPolicy.Open(Ids.A1)).Reason);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Compile_PartnerWithoutInboundTrustKey_TakesDefaultTrust(bool fromBytes)
    {
        // Mixed on purpose: neither "trust all" nor "trust nothing" gives these three outcomes.
        var defaults = Default(AllowAll(), Trust(mfa: true, compliantDevice: false, hybridJoinedDevice: true));
        var partner = Partner(Ids.PartnerTenant, AllowAll());
        Assert.True(partner.Remove("inboundTrust"));
        var snapshot = CompileVia(Document(defaults, partner), fromBytes);
        var caller = Tokens.Read(FullyAttested(Ids.PartnerTenant));

        var mfa = snapshot.Decide(caller, Requiring(GrantControl.Mfa));

        Assert.Equal((DecisionReason.Allowed, SettingsSource.Partner), (mfa.Reason, mfa.Source));
        Assert.Equal(DecisionReason.CompliantDeviceRequired, snapshot.Decide(caller, Requiring(GrantControl.CompliantDevice)).Reason);
        Assert.Equal(DecisionReason.Allowed, snapshot.Decide(caller, Requiring(GrantControl.DomainJoinedDevice)).Reason);
    }

    [Theory]
    [InlineData("absent", false)]
    [InlineData("absent", true)]
    [InlineData("null", false)]
    [InlineData("null", true)]
    [InlineData("fieldsNull", false)]
    [InlineData("fieldsNull", true)]
    [InlineData("fieldsAbsent", false)]
    [InlineData("fieldsAbsent", true)]
    public void Compile_DefaultTrustAbsentOrNull_TrustsNothing(string shape, bool fromBytes)
    {
        var defaults = Default(AllowAll());
        switch (shape)
        {
            case "absent":
                Assert.True(defaults.Remove("inboundTrust"));
                break;
            case "null":
                defaults["inboundTrust"] = null;
                break;
            case "fieldsNull":
                defaults["inboundTrust"] = Trust(null, null, null);
                break;
            default:
                defaults["inboundTrust"] = new JsonObject();
                break;
        }

        // A partner without trust of its own inherits the default's, so it must trust nothing either.
        var snapshot = CompileVia(Document(defaults, Partner(Ids.PartnerTenant, AllowAll(), inboundTrust: null)), fromBytes);

        foreach (var home in new[] { Ids.UnknownTenant, Ids.PartnerTenant })
        {
            var caller = Tokens.Read(FullyAttested(home));

            // The inbound rule admits the caller, so what denies below is the trust alone.
            Assert.Equal(DecisionReason.Allowed, snapshot.Decide(caller, AppPolicy.Open(Ids.A1)).Reason);
            Assert.Equal(DecisionReason.MfaRequired, snapshot.Decide(caller, Requiring(GrantControl.Mfa)).Reason);
            Assert.Equal(DecisionReason.CompliantDeviceRequired, snapshot.Decide(caller, Requiring(GrantControl.CompliantDevice)).Reason);
            Assert.Equal(DecisionReason.HybridJoinedDeviceRequired, snapshot.Decide(caller, Requiring(GrantControl.DomainJoinedDevice)).Reason);
        }
    }

    /// <summary>A home-tenant token showing MFA, a compliant device and a hybrid-joined device.</summary>
    private static JsonObject FullyAttested(Guid homeTenant) => Tokens.Member(homeTenant)
        .With("amr", Tokens.Array("pwd", "mfa"))
        .With("device_compliant", true)
        .With("device_trust_type", "ServerAd");

    private static AppPolicy Requiring(GrantControl control) => AppPolicy.Create(Ids.A1, GrantOperator.Or, control);

    private static PolicySnapshot CompileVia(JsonObject document, bool fromBytes)
    {
        if (!fromBytes)
        {
            return Compile(document);
        }

        var snapshot = PolicyCompiler.Compile(Encoding.UTF8.GetBytes(document.ToJsonString()), Ids.ResourceTenant, default, out var errors);
        Assert.Empty(errors);
        Assert.NotNull(snapshot);
        return snapshot;
    }
}
