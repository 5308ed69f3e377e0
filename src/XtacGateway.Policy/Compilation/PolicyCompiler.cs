using System.Collections.Frozen;
using System.Security.Cryptography;
using XtacGateway.Policy.Model;
using XtacGateway.Policy.Validation;

namespace XtacGateway.Policy.Compilation;

/// <summary>Compiles a valid policy document into a <see cref="PolicySnapshot"/>, resolving all inheritance once.</summary>
public static class PolicyCompiler
{
    private static readonly UsersTarget s_serviceDefaultUsers = new(false, true, GuidSet.Empty, GuidSet.Empty);
    private static readonly ApplicationsTarget s_serviceDefaultApplications = new(false, true, GuidSet.Empty);

    /// <summary>Compiles <paramref name="document"/>, which must have passed <see cref="PolicyParser"/>.</summary>
    public static PolicySnapshot Compile(PolicyDocument document, Guid resourceTenantId, PolicyVersion version = default)
    {
        ArgumentNullException.ThrowIfNull(document);

        var defaults = document.Default;
        var defaultSetting = defaults?.B2bDirectConnectInbound;
        var defaultUsers = CompileUsers(defaultSetting?.UsersAndGroups) ?? s_serviceDefaultUsers;
        var defaultApps = CompileApplications(defaultSetting?.Applications) ?? s_serviceDefaultApplications;
        var defaultTrust = defaults?.InboundTrust;
        var defaultMfa = defaultTrust?.IsMfaAccepted ?? false;
        var defaultCompliant = defaultTrust?.IsCompliantDeviceAccepted ?? false;
        var defaultHybrid = defaultTrust?.IsHybridAzureADJoinedDeviceAccepted ?? false;
        var effectiveDefault = new EffectiveSettings(SettingsSourceKind.Default, defaultUsers, defaultApps, defaultMfa, defaultCompliant, defaultHybrid);

        var partners = new Dictionary<Guid, EffectiveSettings>(document.Partners.Count);
        foreach (var partner in document.Partners)
        {
            if (!Guid.TryParse(partner.TenantId, out var tenantId))
            {
                throw new ArgumentException($"Partner tenant ID '{partner.TenantId}' is not a GUID; validate the document before compiling it.", nameof(document));
            }

            var setting = partner.B2bDirectConnectInbound;
            var trust = partner.InboundTrust;
            partners[tenantId] = new EffectiveSettings(
                SettingsSourceKind.Partner,
                CompileUsers(setting?.UsersAndGroups) ?? defaultUsers,
                CompileApplications(setting?.Applications) ?? defaultApps,
                trust?.IsMfaAccepted ?? defaultMfa,
                trust?.IsCompliantDeviceAccepted ?? defaultCompliant,
                trust?.IsHybridAzureADJoinedDeviceAccepted ?? defaultHybrid);
        }

        return new PolicySnapshot(document, resourceTenantId, effectiveDefault, partners.ToFrozenDictionary(), version);
    }

    /// <summary>A strong entity tag for a document: the same content always yields the same tag.</summary>
    public static string ComputeETag(PolicyDocument document)
    {
        var hash = SHA256.HashData(PolicyWriter.WriteUtf8(document, indented: false));
        return $"\"{Convert.ToHexStringLower(hash.AsSpan(0, 12))}\"";
    }

    private static UsersTarget? CompileUsers(CrossTenantAccessPolicyTargetConfiguration? half)
    {
        if (half?.Targets is not { } targets)
        {
            return null;
        }

        var allUsers = false;
        List<Guid>? users = null;
        List<Guid>? groups = null;
        foreach (var target in targets)
        {
            if (target.Target == PolicyKeywords.AllUsers)
            {
                allUsers = true;
            }
            else if (Guid.TryParse(target.Target, out var id))
            {
                if (target.TargetType == PolicyKeywords.TargetTypeGroup)
                {
                    (groups ??= []).Add(id);
                }
                else
                {
                    (users ??= []).Add(id);
                }
            }
        }

        return new UsersTarget(
            half.AccessType == PolicyKeywords.Allowed,
            allUsers,
            users is null ? GuidSet.Empty : GuidSet.Create(users),
            groups is null ? GuidSet.Empty : GuidSet.Create(groups));
    }

    private static ApplicationsTarget? CompileApplications(CrossTenantAccessPolicyTargetConfiguration? half)
    {
        if (half?.Targets is not { } targets)
        {
            return null;
        }

        var all = false;
        List<Guid>? apps = null;
        foreach (var target in targets)
        {
            if (target.Target == PolicyKeywords.AllApplications)
            {
                all = true;
            }
            else if (Guid.TryParse(target.Target, out var id))
            {
                (apps ??= []).Add(id);
            }

            // Office365 and AllMicrosoftApps never match an internal app, so they compile to nothing.
        }

        return new ApplicationsTarget(half.AccessType == PolicyKeywords.Allowed, all, apps is null ? GuidSet.Empty : GuidSet.Create(apps));
    }
}
