using XtacGateway.Policy.Model;
using XtacGateway.Policy.Validation;

namespace XtacGateway.LoadTests;

/// <summary>
/// The policy and identities every load test and benchmark shares: the repository's sample tenants (an allowed
/// partner that trusts MFA, a blocked partner), an MFA-gated app, and optionally a crowd of generated partners.
/// </summary>
internal static class LoadTestPolicy
{
    public static readonly Guid ResourceTenant = new("aaaaaaaa-0000-4000-8000-000000000001");
    public static readonly Guid AllowedPartner = new("bbbbbbbb-0000-4000-8000-000000000002");
    public static readonly Guid BlockedPartner = new("cccccccc-0000-4000-8000-000000000003");

    /// <summary>A partner that no token uses; toggling it gives a second document that decides identically for the test tenants.</summary>
    public static readonly Guid SpareTenant = new("eeeeeeee-0000-4000-8000-000000000099");

    /// <summary>The apps behind appsettings.json's routes: <c>/</c> is open, <c>/secure/</c> requires MFA.</summary>
    public static readonly Guid OpenApp = new("dddddddd-0000-4000-8000-000000000010");
    public static readonly Guid MfaApp = new("dddddddd-0000-4000-8000-000000000011");

    public static readonly Guid AppA = new("dddddddd-0000-4000-8000-0000000000a1");

    /// <summary>
    /// The test tenants plus <paramref name="generated"/> partners shaped like a real tenant's list: a quarter
    /// allow all users, a quarter allow specific groups, a quarter block everyone, a quarter inherit the default.
    /// </summary>
    public static PolicyDocument Build(int generated, bool withSpare = false)
    {
        var partners = new List<CrossTenantAccessPolicyConfigurationPartner>(generated + 3)
        {
            new()
            {
                TenantId = AllowedPartner.ToString(),
                InboundTrust = new CrossTenantAccessPolicyInboundTrust { IsMfaAccepted = true },
                B2bDirectConnectInbound = Setting(PolicyKeywords.Allowed, [PolicyKeywords.AllUsers], PolicyKeywords.TargetTypeUser, PolicyKeywords.Allowed, PolicyKeywords.AllApplications),
            },
            new()
            {
                TenantId = BlockedPartner.ToString(),
                B2bDirectConnectInbound = Setting(PolicyKeywords.Blocked, [PolicyKeywords.AllUsers], PolicyKeywords.TargetTypeUser, PolicyKeywords.Blocked, PolicyKeywords.AllApplications),
            },
        };

        if (withSpare)
        {
            partners.Add(new() { TenantId = SpareTenant.ToString(), B2bDirectConnectInbound = Setting(PolicyKeywords.Blocked, [PolicyKeywords.AllUsers], PolicyKeywords.TargetTypeUser, PolicyKeywords.Blocked, PolicyKeywords.AllApplications) });
        }

        for (var i = 0; i < generated; i++)
        {
            var tenant = GeneratedTenant(i).ToString();
            partners.Add((i % 4) switch
            {
                0 => new()
                {
                    TenantId = tenant,
                    InboundTrust = new CrossTenantAccessPolicyInboundTrust { IsMfaAccepted = true, IsCompliantDeviceAccepted = i % 8 == 0 },
                    B2bDirectConnectInbound = Setting(PolicyKeywords.Allowed, [PolicyKeywords.AllUsers], PolicyKeywords.TargetTypeUser, PolicyKeywords.Allowed, PolicyKeywords.AllApplications),
                },
                1 => new()
                {
                    TenantId = tenant,
                    B2bDirectConnectInbound = Setting(PolicyKeywords.Allowed, [Group(i, 0).ToString(), Group(i, 1).ToString()], PolicyKeywords.TargetTypeGroup, PolicyKeywords.Allowed, AppA.ToString()),
                },
                2 => new()
                {
                    TenantId = tenant,
                    B2bDirectConnectInbound = Setting(PolicyKeywords.Blocked, [PolicyKeywords.AllUsers], PolicyKeywords.TargetTypeUser, PolicyKeywords.Blocked, PolicyKeywords.AllApplications),
                },
                _ => new() { TenantId = tenant, IsServiceProvider = false },
            });
        }

        return new PolicyDocument
        {
            Default = new CrossTenantAccessPolicyConfigurationDefault
            {
                IsServiceDefault = true,
                InboundTrust = new CrossTenantAccessPolicyInboundTrust { IsMfaAccepted = false, IsCompliantDeviceAccepted = false, IsHybridAzureADJoinedDeviceAccepted = false },
                B2bDirectConnectInbound = Setting(PolicyKeywords.Blocked, [PolicyKeywords.AllUsers], PolicyKeywords.TargetTypeUser, PolicyKeywords.Blocked, PolicyKeywords.AllApplications),
            },
            Partners = partners,
        };
    }

    public static Guid GeneratedTenant(int i) => new($"{i + 1:x8}-1000-4000-8000-{i:x12}");

    private static Guid Group(int i, int n) => new($"{i + 1:x8}-2000-4000-9000-{n:x12}");

    private static CrossTenantAccessPolicyB2BSetting Setting(string usersAccess, string[] users, string userType, string appsAccess, string app) => new()
    {
        UsersAndGroups = new CrossTenantAccessPolicyTargetConfiguration
        {
            AccessType = usersAccess,
            Targets = [.. users.Select(u => new CrossTenantAccessPolicyTarget { Target = u, TargetType = userType })],
        },
        Applications = new CrossTenantAccessPolicyTargetConfiguration
        {
            AccessType = appsAccess,
            Targets = [new CrossTenantAccessPolicyTarget { Target = app, TargetType = PolicyKeywords.TargetTypeApplication }],
        },
    };
}
