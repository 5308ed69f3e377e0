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

        var settings = new SettingsBuilder(document.Default, document.Partners.Count);
        foreach (var partner in document.Partners)
        {
            settings.Add(partner);
        }

        return settings.Build(PolicyWriter.WriteUtf8(document, indented: false), document, resourceTenantId, version);
    }

    /// <summary>
    /// Parses, validates and compiles a UTF-8 policy document without ever holding its typed model whole: partners are
    /// compiled one at a time as they are read. When the input already is the compact form (as a file written by
    /// <see cref="PolicyWriter"/> unindented, or a document from Redis, is), the snapshot keeps the input itself as its
    /// <see cref="PolicySnapshot.DocumentUtf8"/>, so the peak is about the input and the snapshot.
    /// </summary>
    /// <remarks>The input must not change afterwards: the snapshot may hold it.</remarks>
    /// <param name="utf8Json">The document.</param>
    /// <param name="resourceTenantId">The organisation the policy protects; no partner may name it.</param>
    /// <param name="version">The snapshot's version; see <see cref="PolicySnapshot.WithVersion"/> to number it only once it is known to be valid.</param>
    /// <param name="errors">Every error <see cref="PolicyParser"/> would report; empty when the document is valid.</param>
    /// <returns>The snapshot, or null when the document is invalid.</returns>
    public static PolicySnapshot? Compile(ReadOnlyMemory<byte> utf8Json, Guid resourceTenantId, PolicyVersion version, out IReadOnlyList<PolicyError> errors)
    {
        SettingsBuilder? settings = null;
        errors = PolicyParser.ParseEachPartner(
            utf8Json,
            resourceTenantId,
            (defaults, partnerCount) => settings = new SettingsBuilder(defaults, partnerCount),
            partner => settings!.Add(partner),
            out var compactDocument);

        return compactDocument is { } compact ? settings!.Build(compact, document: null, resourceTenantId, version) : null;
    }

    /// <summary>A strong entity tag for a document: the same content always yields the same tag.</summary>
    public static string ComputeETag(PolicyDocument document) => ComputeETag(PolicyWriter.WriteUtf8(document, indented: false));

    /// <summary>The entity tag of a document given as <see cref="PolicySnapshot.DocumentUtf8"/> (the unindented form).</summary>
    public static string ComputeETag(ReadOnlySpan<byte> compactUtf8)
    {
        var hash = SHA256.HashData(compactUtf8);
        return $"\"{Convert.ToHexStringLower(hash.AsSpan(0, 12))}\"";
    }

    /// <summary>Resolves each partner's effective settings against the default as partners come, from a typed list or a stream.</summary>
    private sealed class SettingsBuilder
    {
        private readonly UsersTarget _defaultUsers;
        private readonly ApplicationsTarget _defaultApps;
        private readonly EffectiveSettings _effectiveDefault;
        private readonly Dictionary<Guid, EffectiveSettings> _partners;

        public SettingsBuilder(CrossTenantAccessPolicyConfigurationDefault? defaults, int partnerCount)
        {
            var defaultSetting = defaults?.B2bDirectConnectInbound;
            _defaultUsers = CompileUsers(defaultSetting?.UsersAndGroups) ?? s_serviceDefaultUsers;
            _defaultApps = CompileApplications(defaultSetting?.Applications) ?? s_serviceDefaultApplications;
            var defaultTrust = defaults?.InboundTrust;
            _effectiveDefault = new EffectiveSettings(
                SettingsSourceKind.Default,
                _defaultUsers,
                _defaultApps,
                defaultTrust?.IsMfaAccepted ?? false,
                defaultTrust?.IsCompliantDeviceAccepted ?? false,
                defaultTrust?.IsHybridAzureADJoinedDeviceAccepted ?? false);
            _partners = new Dictionary<Guid, EffectiveSettings>(partnerCount);
        }

        public void Add(CrossTenantAccessPolicyConfigurationPartner partner)
        {
            if (!Guid.TryParse(partner.TenantId, out var tenantId))
            {
                throw new ArgumentException($"Partner tenant ID '{partner.TenantId}' is not a GUID; validate the document before compiling it.", "document");
            }

            var setting = partner.B2bDirectConnectInbound;
            var trust = partner.InboundTrust;
            _partners[tenantId] = new EffectiveSettings(
                SettingsSourceKind.Partner,
                CompileUsers(setting?.UsersAndGroups) ?? _defaultUsers,
                CompileApplications(setting?.Applications) ?? _defaultApps,
                trust?.IsMfaAccepted ?? _effectiveDefault.MfaAccepted,
                trust?.IsCompliantDeviceAccepted ?? _effectiveDefault.CompliantDeviceAccepted,
                trust?.IsHybridAzureADJoinedDeviceAccepted ?? _effectiveDefault.HybridJoinedDeviceAccepted);
        }

        public PolicySnapshot Build(ReadOnlyMemory<byte> compactDocument, PolicyDocument? document, Guid resourceTenantId, PolicyVersion version)
            => new(compactDocument, document, resourceTenantId, _effectiveDefault, _partners.ToFrozenDictionary(), version);
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
