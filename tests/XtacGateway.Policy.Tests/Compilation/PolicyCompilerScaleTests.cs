using XtacGateway.Policy.Claims;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Evaluation;
using XtacGateway.Policy.Model;
using XtacGateway.Policy.Validation;
using Xunit.Abstractions;

namespace XtacGateway.Policy.Tests.Compilation;

/// <summary>Serialises tests that measure the managed heap, so no other test allocates meanwhile.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasurementCollection
{
    public const string Name = "Memory measurement";
}

/// <summary>Domain rules section 9: no limit on partners; 100,000 of them must compile into a compact snapshot.</summary>
[Collection(MemoryMeasurementCollection.Name)]
public sealed class PolicyCompilerScaleTests(ITestOutputHelper output)
{
    private const int PartnerCount = 100_000;
    private const long MaxRetainedBytes = 200L * 1024 * 1024;

    [Fact]
    public void Compile_HundredThousandPartners_RetainsUnder200MB()
    {
        // Measured from before the document exists, which is built and compiled out of reach: a snapshot that kept the
        // typed document alive would count it here, and the document must be collectable once compiled.
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var (snapshot, document) = BuildAndCompile(PartnerCount);
        var after = GC.GetTotalMemory(forceFullCollection: true);

        Assert.False(document.IsAlive, "The snapshot keeps the typed document alive.");
        var retained = after - before;
        output.WriteLine($"Retained by the snapshot of {PartnerCount:N0} partners: {retained:N0} bytes.");
        Assert.True(retained < MaxRetainedBytes, $"The snapshot retains {retained / (1024 * 1024)} MB; the budget is 200 MB.");
        Assert.Equal(PartnerCount, snapshot.PartnerCount);

        // The last partner, with its own group, is really there; the rest inherit its neighbours' behaviour.
        var lastTenant = TenantId(PartnerCount - 1);
        var member = new CallerFacts
        {
            Status = HomeTenantStatus.Known,
            HomeTenantId = lastTenant,
            UserObjectId = Ids.U1,
            Groups = [GroupId(PartnerCount - 1)],
        };
        var nonMember = new CallerFacts
        {
            Status = HomeTenantStatus.Known,
            HomeTenantId = lastTenant,
            UserObjectId = Ids.U1,
            Groups = [GroupId(0)],
        };
        Assert.Equal((DecisionReason.Allowed, SettingsSource.Partner), Outcome(snapshot.Decide(member, AppPolicy.Open(Ids.A1))));
        Assert.Equal((DecisionReason.InboundPolicyBlocked, SettingsSource.Partner), Outcome(snapshot.Decide(nonMember, AppPolicy.Open(Ids.A1))));
        GC.KeepAlive(snapshot);
    }

    private static (DecisionReason, SettingsSource) Outcome(Decision decision) => (decision.Reason, decision.Source);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static (PolicySnapshot Snapshot, WeakReference Document) BuildAndCompile(int count)
    {
        var document = BuildDocument(count);
        return (PolicyCompiler.Compile(document, Ids.ResourceTenant), new WeakReference(document));
    }

    private static PolicyDocument BuildDocument(int count)
    {
        var partners = new CrossTenantAccessPolicyConfigurationPartner[count];
        for (var i = 0; i < count; i++)
        {
            partners[i] = new CrossTenantAccessPolicyConfigurationPartner
            {
                TenantId = TenantId(i).ToString(),
                InboundTrust = new CrossTenantAccessPolicyInboundTrust { IsMfaAccepted = i % 2 == 0 },
                // Every partner admits only its own group; half of them name their apps, half inherit the default's.
                B2bDirectConnectInbound = new CrossTenantAccessPolicyB2BSetting
                {
                    UsersAndGroups = Half(PolicyKeywords.Allowed, GroupId(i).ToString(), PolicyKeywords.TargetTypeGroup),
                    Applications = i % 2 == 0 ? null : Half(PolicyKeywords.Allowed, Ids.A1.ToString(), PolicyKeywords.TargetTypeApplication),
                },
            };
        }

        return new PolicyDocument
        {
            Default = new CrossTenantAccessPolicyConfigurationDefault
            {
                B2bDirectConnectInbound = new CrossTenantAccessPolicyB2BSetting
                {
                    UsersAndGroups = Half(PolicyKeywords.Allowed, PolicyKeywords.AllUsers, PolicyKeywords.TargetTypeUser),
                    Applications = Half(PolicyKeywords.Allowed, PolicyKeywords.AllApplications, PolicyKeywords.TargetTypeApplication),
                },
            },
            Partners = partners,
        };
    }

    private static CrossTenantAccessPolicyTargetConfiguration Half(string accessType, string target, string targetType) => new()
    {
        AccessType = accessType,
        Targets = [new CrossTenantAccessPolicyTarget { Target = target, TargetType = targetType }],
    };

    private static Guid TenantId(int i) => new($"{i + 1:x8}-0000-4000-8000-000000000000");

    private static Guid GroupId(int i) => new($"{i + 1:x8}-0000-4000-9000-000000000000");
}
