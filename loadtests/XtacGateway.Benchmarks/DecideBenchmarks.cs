using BenchmarkDotNet.Attributes;
using XtacGateway.LoadTests;
using XtacGateway.Policy.Claims;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Evaluation;

namespace XtacGateway.Benchmarks;

/// <summary>One decision against a 100,000-partner snapshot (issue 2: no allocation, well under a microsecond).</summary>
[MemoryDiagnoser]
public class DecideBenchmarks
{
    private PolicySnapshot _snapshot = null!;
    private CallerFacts _allowed = null!;
    private CallerFacts _allowedWithMfa = null!;
    private CallerFacts _blocked = null!;
    private CallerFacts _unknownTenant = null!;
    private CallerFacts _groupMember = null!;
    private AppPolicy _openApp = null!;
    private AppPolicy _mfaApp = null!;
    private AppPolicy _appA = null!;

    [GlobalSetup]
    public void Setup()
    {
        _snapshot = PolicyCompiler.Compile(LoadTestPolicy.Build(100_000), LoadTestPolicy.ResourceTenant);
        _allowed = Caller(LoadTestPolicy.AllowedPartner, mfa: false);
        _allowedWithMfa = Caller(LoadTestPolicy.AllowedPartner, mfa: true);
        _blocked = Caller(LoadTestPolicy.BlockedPartner, mfa: true);
        _unknownTenant = Caller(new Guid("0badc0de-0000-4000-8000-000000000123"), mfa: false);
        // A generated partner of the "specific groups" kind (index 50,001): the member of its second group.
        _groupMember = Caller(LoadTestPolicy.GeneratedTenant(50_001), mfa: false, groups: [new Guid("00000000-2000-4000-9000-000000000099"), new Guid($"{50_002:x8}-2000-4000-9000-000000000001")]);
        _openApp = AppPolicy.Open(LoadTestPolicy.OpenApp);
        _mfaApp = AppPolicy.Create(LoadTestPolicy.MfaApp, GrantOperator.Or, GrantControl.Mfa);
        _appA = AppPolicy.Open(LoadTestPolicy.AppA);

        Expect(AllowedPartner(), DecisionReason.Allowed, SettingsSource.Partner);
        Expect(BlockedPartner(), DecisionReason.InboundPolicyBlocked, SettingsSource.Partner);
        Expect(UnknownTenant_Default(), DecisionReason.InboundPolicyBlocked, SettingsSource.Default);
        Expect(MfaApp_WithMfa(), DecisionReason.Allowed, SettingsSource.Partner);
        Expect(MfaApp_WithoutMfa(), DecisionReason.MfaRequired, SettingsSource.Partner);
        Expect(GroupPartner_Member(), DecisionReason.Allowed, SettingsSource.Partner);
    }

    [Benchmark(Description = "allowed partner")]
    public Decision AllowedPartner() => _snapshot.Decide(_allowed, _openApp);

    [Benchmark(Description = "blocked partner")]
    public Decision BlockedPartner() => _snapshot.Decide(_blocked, _openApp);

    [Benchmark(Description = "unknown tenant (default)")]
    public Decision UnknownTenant_Default() => _snapshot.Decide(_unknownTenant, _openApp);

    [Benchmark(Description = "MFA-gated app, mfa in amr")]
    public Decision MfaApp_WithMfa() => _snapshot.Decide(_allowedWithMfa, _mfaApp);

    [Benchmark(Description = "MFA-gated app, no mfa")]
    public Decision MfaApp_WithoutMfa() => _snapshot.Decide(_allowed, _mfaApp);

    [Benchmark(Description = "group-scoped partner, member")]
    public Decision GroupPartner_Member() => _snapshot.Decide(_groupMember, _appA);

    private static CallerFacts Caller(Guid tenant, bool mfa, Guid[]? groups = null) => new()
    {
        Status = HomeTenantStatus.Known,
        HomeTenantId = tenant,
        TokenTenantId = tenant,
        UserObjectId = new Guid("0000abcd-0000-4000-8000-0000000000ab"),
        Groups = groups ?? [],
        MultifactorAuthenticated = mfa,
    };

    private static void Expect(Decision decision, DecisionReason reason, SettingsSource source)
    {
        if (decision.Reason != reason || decision.Source != source)
        {
            throw new InvalidOperationException($"Benchmark set-up is wrong: expected {reason}/{source}, got {decision.Reason}/{decision.Source}.");
        }
    }
}
