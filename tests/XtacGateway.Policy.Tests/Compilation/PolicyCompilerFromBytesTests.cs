using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using XtacGateway.Policy.Claims;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Evaluation;
using XtacGateway.Policy.Model;
using XtacGateway.Policy.Validation;

namespace XtacGateway.Policy.Tests.Compilation;

/// <summary>Compiling straight from bytes (partner by partner, as the file and Redis sources do) against compiling the typed document.</summary>
public sealed class PolicyCompilerFromBytesTests
{
    private static readonly Guid s_blockedPartnerTenant = new("55555555-5555-4555-8555-555555555555");

    private static readonly Guid[] s_homeTenants = [Ids.PartnerTenant, Ids.OtherPartnerTenant, s_blockedPartnerTenant, Ids.UnknownTenant, Ids.ResourceTenant];

    private static readonly AppPolicy[] s_apps =
    [
        AppPolicy.Open(Ids.A1),
        AppPolicy.Open(Ids.A2),
        AppPolicy.Create(Ids.A1, GrantOperator.Or, GrantControl.Mfa),
        AppPolicy.Create(Ids.A1, GrantOperator.And, GrantControl.Mfa, GrantControl.CompliantDevice),
    ];

    [Fact]
    public void Compile_FileWithByteOrderMark_SameSnapshotAsWithout()
    {
        // As Windows PowerShell 5.1 writes a Graph export with '-Encoding UTF8'.
        var json = Encoding.UTF8.GetBytes(MixedDocument().ToJsonString());
        byte[] withMark = [.. Encoding.UTF8.Preamble, .. json];

        var plain = PolicyCompiler.Compile(json, Ids.ResourceTenant, default, out _);
        var marked = PolicyCompiler.Compile(withMark, Ids.ResourceTenant, default, out var errors);

        Assert.Empty(errors);
        Assert.Equal(plain!.ETag, marked!.ETag);
        Assert.Equal(3, marked.PartnerCount);
        Assert.True(PolicyParser.Parse(withMark, Ids.ResourceTenant).IsValid);
    }

    [Fact]
    public void Compile_FromBytes_SameDecisionsAndPartnerCountAsTypedDocument()
    {
        var json = Encoding.UTF8.GetBytes(MixedDocument().ToJsonString());
        var typed = PolicyCompiler.Compile(PolicyJson.ParseValid(MixedDocument()), Ids.ResourceTenant);

        var fromBytes = PolicyCompiler.Compile(json, Ids.ResourceTenant, default, out var errors);

        Assert.Empty(errors);
        Assert.NotNull(fromBytes);
        Assert.Equal(typed.PartnerCount, fromBytes.PartnerCount);
        Assert.Equal(3, fromBytes.PartnerCount);
        foreach (var caller in Callers())
        {
            foreach (var app in s_apps)
            {
                var expected = typed.Decide(caller, app);
                var actual = fromBytes.Decide(caller, app);
                Assert.Equal((expected.Reason, expected.Source), (actual.Reason, actual.Source));
            }
        }
    }

    [Fact]
    public void Compile_FromBytes_DocumentUtf8IsWhatTheWriterWritesUnindented()
    {
        var document = MixedDocument();
        var typed = PolicyCompiler.Compile(PolicyJson.ParseValid(document), Ids.ResourceTenant);

        // Indented input, so the bytes are really rewritten rather than kept.
        var input = Encoding.UTF8.GetBytes(document.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        var fromBytes = PolicyCompiler.Compile(input, Ids.ResourceTenant, default, out _)!;

        Assert.Equal(typed.DocumentUtf8.ToArray(), fromBytes.DocumentUtf8.ToArray());
        Assert.Equal(PolicyCompiler.ComputeETag(typed.Document), PolicyCompiler.ComputeETag(fromBytes.DocumentUtf8.Span));
    }

    [Fact]
    public void Indent_CompactDocument_SameBytesAsTheWriterWritesIndented()
    {
        // Unknown properties too: text the encoder escapes, numbers as written, nested arrays, Graph's list envelope.
        var json = MixedDocument();
        json["note"] = "a+b <é> \"quoted\" \\ \u2028 😀";
        json["numbers"] = new JsonArray(1.50e3, -0.0, 12345678901234567890m, new JsonArray(), new JsonObject());
        json["partners"] = new JsonObject { ["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#partners", ["value"] = json["partners"]!.DeepClone() };
        var document = PolicyJson.ParseValid(json);

        using var indented = new MemoryStream();
        PolicyWriter.Indent(PolicyWriter.WriteUtf8(document, indented: false), indented);

        Assert.Equal(Encoding.UTF8.GetString(PolicyWriter.WriteUtf8(document, indented: true)), Encoding.UTF8.GetString(indented.ToArray()));
    }

    [Fact]
    public void Compile_FromBytesAlreadyCompact_KeepsTheInputAsItsDocument()
    {
        var input = PolicyWriter.WriteUtf8(PolicyJson.ParseValid(MixedDocument()), indented: false);

        var snapshot = PolicyCompiler.Compile(input, Ids.ResourceTenant, default, out _)!;

        Assert.True(MemoryMarshal.TryGetArray(snapshot.DocumentUtf8, out var segment));
        Assert.Same(input, segment.Array);
        Assert.Equal(input.Length, snapshot.DocumentUtf8.Length);
    }

    [Fact]
    public void Compile_LargeDocument_KeptCompressedAndReadBackExactly()
    {
        var partners = Enumerable.Range(1, 8_000)
            .Select(i => PolicyJson.Partner(new Guid(i, 7, 7, [0x87, 0, 0, 0, 0, 0, 0, 1]), PolicyJson.AllowAll()))
            .ToArray();
        var input = PolicyWriter.WriteUtf8(PolicyJson.ParseValid(PolicyJson.Document(PolicyJson.Default(), partners)), indented: false);
        Assert.True(input.Length > 1024 * 1024, $"The document must be large enough to be compressed; it is {input.Length} bytes.");

        var snapshot = PolicyCompiler.Compile(input, Ids.ResourceTenant, default, out _)!;

        Assert.True(MemoryMarshal.TryGetArray(snapshot.DocumentUtf8, out var segment));
        Assert.NotSame(input, segment.Array);
        Assert.Equal(input, snapshot.DocumentUtf8.ToArray());
        Assert.Equal(8_000, snapshot.Document.Partners.Count);
    }

    [Fact]
    public void Compile_FromInvalidBytes_ReturnsTheParsersErrorsAndNoSnapshot()
    {
        var document = PolicyJson.Document(
            PolicyJson.Default(),
            PolicyJson.Partner(Ids.PartnerTenant),
            PolicyJson.Partner(Ids.ResourceTenant),
            PolicyJson.Partner(Ids.PartnerTenant));
        var json = Encoding.UTF8.GetBytes(document.ToJsonString());

        var snapshot = PolicyCompiler.Compile(json, Ids.ResourceTenant, default, out var errors);

        Assert.Null(snapshot);
        var expected = PolicyParser.Parse(json, Ids.ResourceTenant).Errors;
        Assert.True(expected.Count >= 2, string.Join("; ", expected));
        Assert.Equal(expected.Select(e => e.ToString()), errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Compile_FromBytes_HoldsNoTypedDocument()
    {
        var json = Encoding.UTF8.GetBytes(MixedDocument().ToJsonString());
        var snapshot = PolicyCompiler.Compile(json, Ids.ResourceTenant, default, out _)!;

        var collected = MaterializeAndDrop(snapshot);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.False(collected.TryGetTarget(out _), "The snapshot kept its typed document alive.");
        var again = snapshot.Document;
        Assert.Equal(3, again.Partners.Count);
        Assert.Equal(snapshot.DocumentUtf8.ToArray(), PolicyWriter.WriteUtf8(again, indented: false));
    }

    [Fact]
    public void WithVersion_NewVersion_SameDecisionsAndDocument()
    {
        var snapshot = PolicyJson.Compile(MixedDocument());
        var version = new PolicyVersion(42, "\"tag\"", DateTimeOffset.UnixEpoch);

        var renumbered = snapshot.WithVersion(version);

        Assert.Equal((42L, "\"tag\"", DateTimeOffset.UnixEpoch), (renumbered.Version, renumbered.ETag, renumbered.LoadedAt));
        Assert.Equal(snapshot.PartnerCount, renumbered.PartnerCount);
        Assert.Equal(snapshot.DocumentUtf8.ToArray(), renumbered.DocumentUtf8.ToArray());
        var caller = Tokens.Read(Tokens.Member(Ids.OtherPartnerTenant));
        Assert.Equal(snapshot.Decide(caller, AppPolicy.Open(Ids.A1)).Reason, renumbered.Decide(caller, AppPolicy.Open(Ids.A1)).Reason);
    }

    [Fact]
    public void HasPartner_FromBytes_TrueForEveryListedTenantOnly()
    {
        var snapshot = PolicyCompiler.Compile(Encoding.UTF8.GetBytes(MixedDocument().ToJsonString()), Ids.ResourceTenant, default, out var errors);

        Assert.Empty(errors);
        Assert.NotNull(snapshot);
        Assert.All(new[] { Ids.PartnerTenant, Ids.OtherPartnerTenant, s_blockedPartnerTenant }, tenant => Assert.True(snapshot.HasPartner(tenant), $"{tenant} is listed"));
        Assert.All(new[] { Ids.UnknownTenant, Ids.ResourceTenant, Guid.Empty }, tenant => Assert.False(snapshot.HasPartner(tenant), $"{tenant} is not listed"));
    }

    // Not inlined, so that no local of the test method keeps the typed document reachable.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference<PolicyDocument> MaterializeAndDrop(PolicySnapshot snapshot)
    {
        var document = snapshot.Document;
        Assert.Equal(3, document.Partners.Count);
        return new WeakReference<PolicyDocument>(document);
    }

    private static JsonObject MixedDocument() => PolicyJson.Document(
        PolicyJson.Default(
            PolicyJson.Setting(PolicyJson.Allowed(PolicyJson.AllUsers()), PolicyJson.Allowed(PolicyJson.App(Ids.A1))),
            PolicyJson.Trust(mfa: true, compliantDevice: false, hybridJoinedDevice: null)),
        PolicyJson.Partner(Ids.PartnerTenant, PolicyJson.AllowAll(), PolicyJson.Trust(mfa: false, compliantDevice: true, hybridJoinedDevice: null)),
        PolicyJson.Partner(Ids.OtherPartnerTenant, PolicyJson.Setting(PolicyJson.Allowed(PolicyJson.User(Ids.U1), PolicyJson.Group(Ids.G1)), null)),
        PolicyJson.Partner(s_blockedPartnerTenant, PolicyJson.BlockAll()));

    private static IEnumerable<CallerFacts> Callers()
    {
        foreach (var home in s_homeTenants)
        {
            yield return Tokens.Read(Tokens.Member(home));
            yield return Tokens.Read(Tokens.Member(home, Ids.U1));
            yield return Tokens.Read(Tokens.Member(home, Ids.U2).With("groups", Tokens.Groups(Ids.G1)));
            yield return Tokens.Read(Tokens.Member(home, Ids.U1).With("amr", Tokens.Array("pwd", "mfa")));
            yield return Tokens.Read(Tokens.Member(home, Ids.U1).With("amr", Tokens.Array("pwd", "mfa")).With("device_compliant", true));
            yield return Tokens.Read(Tokens.Guest(Ids.ResourceTenant, home, Ids.U1));
        }
    }
}
