using System.Net;
using XtacGateway.Admin;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Admin;

/// <summary>One gateway (File source) shared by every row; the change verbs are sent so that, once authorized, they are refused on their merits (400, 404, 412) and nothing changes.</summary>
public sealed class AdminAuthorizationFixture : IAsyncLifetime
{
    internal GatewayHarness Gateway { get; private set; } = null!;

    public async Task InitializeAsync()
        => Gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Admin:AuditPath"] = "audit.jsonl");

    public async Task DisposeAsync() => await Gateway.DisposeAsync();
}

public sealed class AdminAuthorizationTests(AdminAuthorizationFixture fixture) : IClassFixture<AdminAuthorizationFixture>
{
    private const string UserAdministrator = "fe930be7-5e62-47db-91af-98c3a49a38b1";

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var caller in new[] { "anonymous", "GlobalAdministrator", "SecurityAdministrator", "GlobalReader", "SecurityReader", "TeamsAdministrator", "NoRole", "UserAdministrator", "PartnerGlobalAdministrator" })
        {
            foreach (var verb in s_verbs.Keys)
            {
                data.Add(caller, verb);
            }
        }

        return data;
    }

    private static readonly Dictionary<string, (HttpMethod Method, string Path, string? Body, string? IfMatch, bool Change, HttpStatusCode Authorized)> s_verbs = new()
    {
        ["GET default"] = (HttpMethod.Get, $"{AdminClient.Base}/default", null, null, false, HttpStatusCode.OK),
        ["PATCH default"] = (HttpMethod.Patch, $"{AdminClient.Base}/default", """{"inboundTrust": {"isMfaAccepted": "yes"}}""", null, true, HttpStatusCode.BadRequest),
        ["POST resetToSystemDefault"] = (HttpMethod.Post, $"{AdminClient.Base}/default/resetToSystemDefault", null, "\"stale\"", true, HttpStatusCode.PreconditionFailed),
        ["GET partners"] = (HttpMethod.Get, $"{AdminClient.Base}/partners", null, null, false, HttpStatusCode.OK),
        ["POST partners"] = (HttpMethod.Post, $"{AdminClient.Base}/partners", """{"isServiceProvider": true}""", null, true, HttpStatusCode.BadRequest),
        ["GET partner"] = (HttpMethod.Get, $"{AdminClient.Base}/partners/{TestIds.AllowedPartner}", null, null, false, HttpStatusCode.OK),
        ["PATCH partner"] = (HttpMethod.Patch, $"{AdminClient.Base}/partners/{TestIds.AllowedPartner}", """{"b2bDirectConnectInbound": {"usersAndGroups": {"accessType": "maybe", "targets": []}}}""", null, true, HttpStatusCode.BadRequest),
        ["DELETE partner"] = (HttpMethod.Delete, $"{AdminClient.Base}/partners/{TestIds.UnlistedTenant}", null, null, true, HttpStatusCode.NotFound),
        ["POST reload"] = (HttpMethod.Post, "/admin/policies/reload", null, null, true, HttpStatusCode.OK),
        ["GET audit"] = (HttpMethod.Get, "/admin/audit", null, null, false, HttpStatusCode.OK),
        ["POST evaluate"] = (HttpMethod.Post, "/admin/evaluate", EvaluateBody, null, false, HttpStatusCode.OK),
    };

    internal static string EvaluateBody =>
        "{\"application\": {\"appId\": \"" + TestIds.OpenApp + "\"}, \"claims\": {\"tid\": \"" + TestIds.AllowedPartner + "\", \"oid\": \"" + Guid.NewGuid() + "\"}}";

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task AdminVerb_ByCaller_AuthorizedOnlyForTheRightRolesOfTheResourceTenant(string caller, string verb)
    {
        var gateway = fixture.Gateway;
        var etagBefore = gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag;
        var (method, path, body, ifMatch, change, authorized) = s_verbs[verb];
        var token = caller switch
        {
            "anonymous" => null,
            "GlobalAdministrator" => gateway.AdminToken(AdminRoles.GlobalAdministrator),
            "SecurityAdministrator" => gateway.AdminToken(AdminRoles.SecurityAdministrator),
            "GlobalReader" => gateway.AdminToken(AdminRoles.GlobalReader),
            "SecurityReader" => gateway.AdminToken(AdminRoles.SecurityReader),
            "TeamsAdministrator" => gateway.AdminToken(AdminRoles.TeamsAdministrator),
            "NoRole" => gateway.AdminToken(role: null),
            "UserAdministrator" => gateway.AdminToken(UserAdministrator),
            "PartnerGlobalAdministrator" => gateway.AdminToken(AdminRoles.GlobalAdministrator, tenant: TestIds.AllowedPartner),
            _ => throw new ArgumentOutOfRangeException(nameof(caller)),
        };

        var mayRead = caller is "GlobalAdministrator" or "SecurityAdministrator" or "GlobalReader" or "SecurityReader" or "TeamsAdministrator";
        var mayChange = caller is "GlobalAdministrator" or "SecurityAdministrator";
        var expected = token is null ? HttpStatusCode.Unauthorized
            : (change ? mayChange : mayRead) ? authorized
            : HttpStatusCode.Forbidden;

        using var response = await gateway.AdminWithTokenAsync(method, path, token, body, ifMatch);

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal(etagBefore, gateway.Service<XtacGateway.Policies.PolicySnapshotStore>().Current!.ETag);
        if (expected == HttpStatusCode.Unauthorized)
        {
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        }
        else if (expected == HttpStatusCode.Forbidden)
        {
            // What the token lacks, named: the resource tenant, or the roles that would do.
            await ProblemAssert.InsufficientScopeAsync(response, caller == "PartnerGlobalAdministrator" ? $"this token's tenant is {TestIds.AllowedPartner}"
                : change ? "Changing the cross-tenant access policy needs one of these directory roles in the token's 'wids': Global Administrator, Security Administrator."
                : "Reading the cross-tenant access policy needs one of these directory roles in the token's 'wids': Global Administrator, Global Reader, Security Administrator, Security Reader, Teams Administrator.");
        }
    }

    [Theory]
    [InlineData("app-only token with the change role", HttpStatusCode.BadRequest, null)]
    [InlineData("app-only token (idtyp) with the change role", HttpStatusCode.BadRequest, null)]
    [InlineData("user token with the change role", HttpStatusCode.Forbidden, "directory roles in the token's 'wids'")]
    [InlineData("token without scope whose sub is not its oid", HttpStatusCode.Forbidden, "is not an app's own token")]
    // No scope and no client named: an ID token, no access token at all, refused at authentication.
    [InlineData("ID token (no azp) whose sub is not its oid", HttpStatusCode.Unauthorized, null)]
    [InlineData("app-only token with Global Administrator in wids", HttpStatusCode.Forbidden, "needs one of these app roles in the token's 'roles': Policy.Change.")]
    [InlineData("partner's app-only token with the change role", HttpStatusCode.Forbidden, "resource tenant")]
    public async Task AdminChange_AppRoleCallers_OnlyAppOnlyTokensOfTheResourceTenant(string caller, HttpStatusCode expected, string? refusal)
    {
        await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s => s["Xtac:Admin:ChangeAppRole"] = "Policy.Change");
        var servicePrincipal = Guid.NewGuid().ToString();
        var token = gateway.Token(caller.StartsWith("partner", StringComparison.Ordinal) ? TestIds.AllowedPartner : TestIds.ResourceTenant, claims =>
        {
            claims["oid"] = servicePrincipal;
            claims["sub"] = caller.Contains("sub is not", StringComparison.Ordinal) ? "pairwise-subject" : servicePrincipal;
            claims["azp"] = caller.StartsWith("ID token", StringComparison.Ordinal) ? null : Guid.NewGuid().ToString();
            if (!caller.StartsWith("user", StringComparison.Ordinal))
            {
                claims["scp"] = null;
            }

            if (caller.Contains("(idtyp)", StringComparison.Ordinal))
            {
                claims["idtyp"] = "app";
                claims["sub"] = "not-the-oid";
            }

            if (caller.Contains("wids", StringComparison.Ordinal))
            {
                // Some other app role, so that Microsoft.Identity.Web's scope-or-role check lets the token in.
                claims["wids"] = new List<object> { AdminRoles.GlobalAdministrator };
                claims["roles"] = new List<object> { "Orders.Read" };
            }
            else
            {
                claims["roles"] = new List<object> { "Policy.Change" };
            }
        });

        using var response = await gateway.AdminWithTokenAsync(HttpMethod.Patch, $"{AdminClient.Base}/default", token, """{"inboundTrust": {"isMfaAccepted": "yes"}}""");

        // Authorized, the invalid body is refused on its merits (400); otherwise 403 saying why, or 401. Nothing changes
        // either way.
        Assert.Equal(expected, response.StatusCode);
        if (refusal is not null)
        {
            await ProblemAssert.InsufficientScopeAsync(response, refusal);
        }
    }

    [Theory]
    [InlineData("GET", "neither Xtac:Admin:ReadAppRole nor Xtac:Admin:ChangeAppRole is set")]
    [InlineData("PATCH", "Changing the cross-tenant access policy is granted to no app role here (Xtac:Admin:ChangeAppRole is not set)")]
    public async Task AdminCall_AppOnlyTokenWhereNoAppRoleIsConfigured_403SaysNoneIs(string method, string refusal)
    {
        var servicePrincipal = Guid.NewGuid().ToString();
        var token = fixture.Gateway.Token(TestIds.ResourceTenant, claims =>
        {
            claims["oid"] = claims["sub"] = servicePrincipal;
            claims["azp"] = Guid.NewGuid().ToString();
            claims["scp"] = null;
            claims["roles"] = new List<object> { "Policy.Read" };
        });

        using var response = await fixture.Gateway.AdminWithTokenAsync(new HttpMethod(method), $"{AdminClient.Base}/default", token,
            method == "PATCH" ? """{"inboundTrust": {"isMfaAccepted": "yes"}}""" : null);

        await ProblemAssert.InsufficientScopeAsync(response, refusal);
    }

    [Fact]
    public async Task AdminApi_OnTheProxyListener_IsNotServed()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{AdminClient.Base}/default");
        request.Headers.Authorization = new("Bearer", fixture.Gateway.AdminToken());
        using var response = await fixture.Gateway.Client.SendAsync(request);

        // Not the gateway's admin API: no policy, no policy headers. On the proxy listener the path is the app's, so
        // the catch-all route forwards it (decided like any other request) to the app behind the gateway.
        Assert.False(response.Headers.Contains("X-Xtac-Policy-Version"));
        Assert.False(response.Headers.Contains("ETag"));
        Assert.DoesNotContain("isServiceDefault", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains(fixture.Gateway.Backend.Requests, r => r.Path == $"{AdminClient.Base}/default");
    }
}
