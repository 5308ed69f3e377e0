using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Evaluation;
using static XtacGateway.Policy.Tests.PolicyJson;

namespace XtacGateway.Policy.Tests.Evaluation;

/// <summary>
/// No policy loaded (architecture: fail closed, every cross-tenant request denied): what needs no cross-tenant settings
/// (domain rules section 6a steps 1, 2, 5 and 6) is decided as usual, every other caller gets PolicyUnavailable.
/// </summary>
public sealed class DecideWithoutPolicyTests
{
    [Theory]
    [InlineData("home")]
    [InlineData("guest")]
    public void DecideWithoutPolicy_CrossTenantCaller_PolicyUnavailable(string token)
    {
        // The guest token is issued by the resource tenant itself: its tid alone would pass for an internal caller.
        var claims = token == "home" ? Tokens.Member(Ids.PartnerTenant) : Tokens.Guest(Ids.ResourceTenant, Ids.PartnerTenant, Ids.U1);
        var caller = Tokens.Read(claims);
        var app = AppPolicy.Open(Ids.A1);

        var decision = PolicySnapshot.DecideWithoutPolicy(caller, app, Ids.ResourceTenant);

        Assert.Equal((DecisionReason.PolicyUnavailable, SettingsSource.None, Ids.PartnerTenant), (decision.Reason, decision.Source, decision.HomeTenantId));
        Assert.Equal(Ids.A1, decision.AppId);
        Assert.False(decision.IsAllowed);
        Assert.Null(decision.ErrorCode);
        // A loaded policy that admits everyone lets the same caller in: only the missing policy denies.
        Assert.True(Compile(Document(Default(AllowAll()))).Decide(caller, app).IsAllowed);
    }

    [Fact]
    public void DecideWithoutPolicy_InternalCaller_DecidedAsInternal()
    {
        var withMfa = Tokens.Read(Tokens.Member(Ids.ResourceTenant).With("amr", Tokens.Array("pwd", "mfa")));
        var withoutMfa = Tokens.Read(Tokens.Member(Ids.ResourceTenant).With("amr", Tokens.Array("pwd")));
        var mfaApp = AppPolicy.Create(Ids.A1, GrantOperator.Or, GrantControl.Mfa);

        var open = PolicySnapshot.DecideWithoutPolicy(withoutMfa, AppPolicy.Open(Ids.A1), Ids.ResourceTenant);
        var mfaMet = PolicySnapshot.DecideWithoutPolicy(withMfa, mfaApp, Ids.ResourceTenant);
        var mfaUnmet = PolicySnapshot.DecideWithoutPolicy(withoutMfa, mfaApp, Ids.ResourceTenant);

        Assert.Equal((DecisionReason.InternalUser, SettingsSource.None, Ids.ResourceTenant), (open.Reason, open.Source, open.HomeTenantId));
        Assert.True(open.IsAllowed);
        Assert.Equal(DecisionReason.InternalUser, mfaMet.Reason);
        // Still the app's controls on the token's own claims (section 5), not a blanket pass.
        Assert.Equal(DecisionReason.MfaRequired, mfaUnmet.Reason);
    }

    [Theory]
    [InlineData("noTid", DecisionReason.UnknownHomeTenant)]
    [InlineData("microsoftAccount", DecisionReason.UnsupportedIdentityProvider)]
    public void DecideWithoutPolicy_NoEntraHomeTenant_SameReasonAsWithPolicy(string token, DecisionReason expected)
    {
        // Step 1 comes before any settings are read, so the caller learns the same reason with or without a policy.
        var claims = Tokens.Member(Ids.PartnerTenant);
        if (token == "noTid")
        {
            claims.Remove("tid");
        }
        else
        {
            claims["idp"] = "live.com";
        }

        var caller = Tokens.Read(claims);

        var decision = PolicySnapshot.DecideWithoutPolicy(caller, AppPolicy.Open(Ids.A1), Ids.ResourceTenant);

        Assert.Equal((expected, SettingsSource.None, (Guid?)null), (decision.Reason, decision.Source, decision.HomeTenantId));
        Assert.Equal(expected, Compile(Document(Default(AllowAll()))).Decide(caller, AppPolicy.Open(Ids.A1)).Reason);
    }
}
