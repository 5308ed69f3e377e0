using System.Collections.Frozen;
using System.IO.Compression;
using XtacGateway.Policy.Claims;
using XtacGateway.Policy.Evaluation;
using XtacGateway.Policy.Model;
using XtacGateway.Policy.Validation;

namespace XtacGateway.Policy.Compilation;

/// <summary>
/// A compiled, immutable policy: every partner's effective settings resolved once, looked up by home
/// tenant in a frozen dictionary. Deciding reads only this object: no locks, no I/O, no allocation.
/// </summary>
public sealed class PolicySnapshot
{
    private readonly EffectiveSettings _default;
    private readonly FrozenDictionary<Guid, EffectiveSettings> _partners;

    // Only a weak hold: the typed model of 100,000 partners is ~75 MB, needed by admin reads, not by decisions.
    private readonly WeakReference<PolicyDocument?> _document;

    private readonly StoredDocument _stored;

    internal PolicySnapshot(
        ReadOnlyMemory<byte> documentUtf8,
        PolicyDocument? document,
        Guid resourceTenantId,
        EffectiveSettings defaults,
        FrozenDictionary<Guid, EffectiveSettings> partners,
        PolicyVersion version)
        : this(new StoredDocument(documentUtf8), document, resourceTenantId, defaults, partners, version)
    {
    }

    private PolicySnapshot(
        StoredDocument stored,
        PolicyDocument? document,
        Guid resourceTenantId,
        EffectiveSettings defaults,
        FrozenDictionary<Guid, EffectiveSettings> partners,
        PolicyVersion version)
    {
        _stored = stored;
        _document = new WeakReference<PolicyDocument?>(document);
        ResourceTenantId = resourceTenantId;
        _default = defaults;
        _partners = partners;
        Version = version.Number;
        ETag = version.ETag;
        LoadedAt = version.LoadedAt;
    }

    /// <summary>
    /// The document this snapshot was compiled from, unindented, as <see cref="PolicyWriter.WriteUtf8"/> writes it.
    /// A large document is kept compressed and expanded here, so hold the result rather than asking again.
    /// </summary>
    public ReadOnlyMemory<byte> DocumentUtf8 => _stored.Utf8;

    /// <summary>
    /// The document this snapshot was compiled from, read again from <see cref="DocumentUtf8"/> when the last copy was
    /// collected. Costly for a large policy: for admin reads, not for requests.
    /// </summary>
    public PolicyDocument Document
    {
        get
        {
            if (_document.TryGetTarget(out var document) && document is not null)
            {
                return document;
            }

            // Already validated against the resource tenant when compiled, so no tenant is given here.
            var parsed = PolicyParser.Parse(DocumentUtf8);
            document = parsed.Document
                ?? throw new InvalidOperationException($"The document of policy version {Version} no longer reads: {string.Join("; ", parsed.Errors)}");
            _document.SetTarget(document);
            return document;
        }
    }

    /// <summary>The organisation whose inbound settings these are; its own users are internal callers.</summary>
    public Guid ResourceTenantId { get; }

    public long Version { get; }

    public string ETag { get; }

    public DateTimeOffset LoadedAt { get; }

    public int PartnerCount => _partners.Count;

    /// <summary>Whether the document names this tenant as a partner, answered without reading the document.</summary>
    public bool HasPartner(Guid tenantId) => _partners.ContainsKey(tenantId);

    /// <summary>
    /// The same compiled policy under another version, sharing everything else; lets a source number a snapshot only
    /// once it has compiled, so an invalid document uses up no version.
    /// </summary>
    public PolicySnapshot WithVersion(PolicyVersion version)
    {
        _document.TryGetTarget(out var document);
        return new PolicySnapshot(_stored, document, ResourceTenantId, _default, _partners, version);
    }

    /// <summary>Decides whether <paramref name="caller"/> may reach <paramref name="app"/> (domain rules, section 6a).</summary>
    public Decision Decide(CallerFacts caller, AppPolicy app)
    {
        if (TryDecideWithoutSettings(caller, app, ResourceTenantId, out var decided))
        {
            return decided;
        }

        var appId = app.AppId;
        var home = caller.HomeTenantId;
        if (!_partners.TryGetValue(home, out var effective))
        {
            effective = _default;
        }

        var source = (SettingsSource)effective.Source;
        var reason = InboundReason(caller, app, effective) ?? GrantControlsReason(caller, app, effective, ResourceTenantId) ?? DecisionReason.Allowed;
        return new Decision(reason, source, home, appId);
    }

    /// <summary>
    /// The decision while no policy is loaded (architecture: fail closed for cross-tenant requests only): callers whose
    /// decision needs no cross-tenant settings (no usable home tenant, internal users) are decided as usual, every
    /// cross-tenant caller gets <see cref="DecisionReason.PolicyUnavailable"/>.
    /// </summary>
    public static Decision DecideWithoutPolicy(CallerFacts caller, AppPolicy app, Guid resourceTenantId)
        => TryDecideWithoutSettings(caller, app, resourceTenantId, out var decided)
            ? decided
            : new Decision(DecisionReason.PolicyUnavailable, SettingsSource.None, caller.HomeTenantId, app.AppId);

    /// <summary>
    /// Every reason and settings source that <see cref="Decide"/> or <see cref="DecideWithoutPolicy"/> can give for
    /// <paramref name="app"/>, whatever the caller and the policy, so that telemetry can report each count from zero
    /// (a Prometheus series born at one hides its first decision from <c>rate</c> and <c>increase</c>).
    /// </summary>
    public static IReadOnlyList<(DecisionReason Reason, SettingsSource Source)> PossibleDecisions(AppPolicy app)
    {
        // Mirrors the rules above: a blocking app allows nobody; under OR only the first control's reason can deny
        // (any satisfied control allows), under AND each control's can (the first unmet one names the denial).
        var controls = app.ControlArray;
        DecisionReason[] grantReasons = controls.Length == 0 ? []
            : app.Blocks ? [DecisionReason.BlockedByGrantControls]
            : [.. (app.Operator == GrantOperator.Or ? controls[..1] : controls).Select(GrantReason).Distinct()];

        var possible = new List<(DecisionReason, SettingsSource)>
        {
            (DecisionReason.UnknownHomeTenant, SettingsSource.None),
            (DecisionReason.UnsupportedIdentityProvider, SettingsSource.None),
            (DecisionReason.PolicyUnavailable, SettingsSource.None),
        };
        if (!app.Blocks)
        {
            possible.Add((DecisionReason.InternalUser, SettingsSource.None));
        }

        possible.AddRange(grantReasons.Select(r => (r, SettingsSource.None)));
        foreach (var source in (ReadOnlySpan<SettingsSource>)[SettingsSource.Default, SettingsSource.Partner])
        {
            if (!app.Blocks)
            {
                possible.Add((DecisionReason.Allowed, source));
            }

            possible.Add((DecisionReason.InboundPolicyBlocked, source));
            possible.AddRange(grantReasons.Select(r => (r, source)));
        }

        // Only a partner's settings may name users and groups (the default targets AllUsers), so only they can need
        // a fact the token lacks.
        possible.Add((DecisionReason.HomeIdentityUnavailable, SettingsSource.Partner));
        possible.Add((DecisionReason.GroupMembershipUnavailable, SettingsSource.Partner));

        return possible;
    }

    /// <summary>Section 6a steps 1-2, and 5-6 for an internal caller: everything decided before the cross-tenant settings are read.</summary>
    private static bool TryDecideWithoutSettings(CallerFacts caller, AppPolicy app, Guid resourceTenantId, out Decision decision)
    {
        var appId = app.AppId;
        switch (caller.Status)
        {
            case HomeTenantStatus.Unknown:
                decision = new Decision(DecisionReason.UnknownHomeTenant, SettingsSource.None, null, appId);
                return true;
            case HomeTenantStatus.UnsupportedIdentityProvider:
                decision = new Decision(DecisionReason.UnsupportedIdentityProvider, SettingsSource.None, null, appId);
                return true;
        }

        var home = caller.HomeTenantId;
        if (home == resourceTenantId)
        {
            var internalReason = GrantControlsReason(caller, app, settings: null, resourceTenantId);
            decision = new Decision(internalReason ?? DecisionReason.InternalUser, SettingsSource.None, home, appId);
            return true;
        }

        decision = default;
        return false;
    }

    private static DecisionReason? InboundReason(CallerFacts caller, AppPolicy app, EffectiveSettings settings)
    {
        var users = settings.Users;

        // Fail closed when the rule needs a fact the token cannot give (section 6).
        if (caller.IsGuest || caller.UserObjectId is null)
        {
            // A guest's groups belong to the resource tenant, so they can never answer for home groups.
            if ((settings.HasSpecificUsers && caller.UserObjectId is null) || (caller.IsGuest && settings.HasSpecificGroups))
            {
                return DecisionReason.HomeIdentityUnavailable;
            }
        }

        if (!caller.IsGuest && (caller.GroupsOverage || caller.GroupsUnreadable) && settings.HasSpecificGroups)
        {
            return DecisionReason.GroupMembershipUnavailable;
        }

        var userHit = users.AllUsers
            || caller.UserObjectId is { } oid && users.Users.Contains(oid)
            || !caller.IsGuest && users.Groups.ContainsAny(caller.Groups);

        var apps = settings.Applications;
        var appHit = apps.AllApplications || apps.Applications.Contains(app.AppId);

        bool allowed;
        if (!users.Allowed && !apps.Allowed)
        {
            allowed = !(userHit && appHit);
        }
        else
        {
            allowed = (users.Allowed ? userHit : !userHit) && (apps.Allowed ? appHit : !appHit);
        }

        return allowed ? null : DecisionReason.InboundPolicyBlocked;
    }

    /// <summary>
    /// Checks the app's grant controls; <paramref name="settings"/> is null for an internal caller, whose own claims
    /// suffice. MFA and device claims count only when the token was issued by the caller's home tenant or by the
    /// resource tenant: a third tenant that issued a guest token (any tenant can, for a multi-tenant app) would
    /// otherwise vouch for another organisation's user, with an MFA method or device claim of its own making.
    /// </summary>
    private static DecisionReason? GrantControlsReason(CallerFacts caller, AppPolicy app, EffectiveSettings? settings, Guid resourceTenantId)
    {
        var controls = app.ControlArray;
        if (controls.Length == 0)
        {
            return null;
        }

        if (app.Blocks)
        {
            return DecisionReason.BlockedByGrantControls;
        }

        var attested = caller.TokenTenantId is { } issuer && (issuer == caller.HomeTenantId || issuer == resourceTenantId);

        DecisionReason? firstUnmet = null;
        foreach (var control in controls)
        {
            var satisfied = control switch
            {
                GrantControl.Mfa => attested && caller.MultifactorAuthenticated && (settings is null || settings.MfaAccepted),
                GrantControl.CompliantDevice => attested && caller.CompliantDevice && (settings is null || settings.CompliantDeviceAccepted),
                GrantControl.DomainJoinedDevice => attested && caller.HybridJoinedDevice && (settings is null || settings.HybridJoinedDeviceAccepted),
                _ => false,
            };

            if (satisfied)
            {
                if (app.Operator == GrantOperator.Or)
                {
                    return null;
                }
            }
            else
            {
                firstUnmet ??= GrantReason(control);

                if (app.Operator == GrantOperator.And)
                {
                    return firstUnmet;
                }
            }
        }

        return firstUnmet;
    }

    private static DecisionReason GrantReason(GrantControl control) => control switch
    {
        GrantControl.Mfa => DecisionReason.MfaRequired,
        GrantControl.CompliantDevice => DecisionReason.CompliantDeviceRequired,
        _ => DecisionReason.HybridJoinedDeviceRequired,
    };

    /// <summary>
    /// The document's bytes as kept: as given when small, Brotli-compressed when large. A 100,000-partner document is
    /// 50 MB of JSON that only admin reads and the last-known-good file need, and GUID-heavy JSON compresses several
    /// times over; kept whole it was most of such a gateway's memory beyond the compiled settings.
    /// </summary>
    private sealed class StoredDocument
    {
        private const int CompressAbove = 1024 * 1024;

        private readonly ReadOnlyMemory<byte> _plain;
        private readonly byte[]? _compressed;
        private readonly int _length;
        private readonly WeakReference<byte[]?> _expanded = new(null);

        public StoredDocument(ReadOnlyMemory<byte> utf8)
        {
            if (utf8.Length <= CompressAbove)
            {
                _plain = utf8;
                return;
            }

            _length = utf8.Length;
            using var compressed = new MemoryStream(utf8.Length / 8);
            using (var brotli = new BrotliStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            {
                brotli.Write(utf8.Span);
            }

            _compressed = compressed.ToArray();
        }

        public ReadOnlyMemory<byte> Utf8
        {
            get
            {
                if (_compressed is null)
                {
                    return _plain;
                }

                lock (_expanded)
                {
                    if (!_expanded.TryGetTarget(out var expanded) || expanded is null)
                    {
                        expanded = GC.AllocateUninitializedArray<byte>(_length);
                        using var brotli = new BrotliStream(new MemoryStream(_compressed), CompressionMode.Decompress);
                        brotli.ReadExactly(expanded);
                        _expanded.SetTarget(expanded);
                    }

                    return expanded;
                }
            }
        }
    }
}

/// <summary>The identity of a snapshot: a number that only grows, an entity tag, and when it was loaded.</summary>
public readonly record struct PolicyVersion(long Number, string ETag, DateTimeOffset LoadedAt);
