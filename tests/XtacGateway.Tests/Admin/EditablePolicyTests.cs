using System.Text;
using System.Text.Json.Nodes;
using XtacGateway.Admin;
using XtacGateway.Policy.Compilation;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Admin;

/// <summary>
/// The editable document against the whole-document JSON tree it replaced: the same edit on either must compile to the
/// same policy, byte for byte, whether the partners are a list or Graph's envelope around one.
/// </summary>
public sealed class EditablePolicyTests
{
    private static readonly Guid Added = new("dddddddd-0000-4000-8000-000000000042");

    public static TheoryData<string, bool> Edits()
    {
        var data = new TheoryData<string, bool>();
        foreach (var edit in (string[])["none", "patch second partner", "remove first, add one", "replace default", "patch default", "add to none"])
        {
            data.Add(edit, false);
            data.Add(edit, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Edits))]
    public void ToUtf8_Edit_CompilesToWhatTheWholeTreeEditDid(string edit, bool envelope)
    {
        var document = Document(envelope, withPartners: edit != "add to none");
        var basis = Compile(Encoding.UTF8.GetBytes(document.ToJsonString()));

        var policy = EditablePolicy.Read(basis.DocumentUtf8);
        var tree = JsonNode.Parse(basis.DocumentUtf8.Span)!.AsObject();
        Apply(edit, policy, tree);

        Assert.Equal(Encoding.UTF8.GetString(Compile(Encoding.UTF8.GetBytes(tree.ToJsonString())).DocumentUtf8.Span),
            Encoding.UTF8.GetString(Compile(policy.ToUtf8()).DocumentUtf8.Span));
    }

    [Theory]
    [InlineData(false, "$.partners[1]")]
    [InlineData(true, "$.partners.value[1]")]
    public void IndexOf_PartnersAfterARemoval_CountedInTheEditedList(bool envelope, string path)
    {
        var policy = EditablePolicy.Read(Compile(Encoding.UTF8.GetBytes(Document(envelope, withPartners: true).ToJsonString())).DocumentUtf8);
        Assert.Equal(3, policy.PartnerCount);

        policy.RemovePartner(policy.IndexOf(TestIds.AllowedPartner));

        Assert.Equal(-1, policy.IndexOf(TestIds.AllowedPartner));
        Assert.Equal(0, policy.IndexOf(TestIds.BlockedPartner));
        var index = policy.IndexOf(TestIds.UnlistedTenant);
        Assert.Equal(1, index);
        Assert.Equal(path, policy.PartnerPath(index));
        Assert.Equal(TestIds.UnlistedTenant.ToString(), (string?)policy.Partner(index)["tenantId"]);
        Assert.Same(policy.Partner(index), policy.NodeAt(path));
        Assert.Equal(2, policy.PartnerCount);
    }

    private static void Apply(string edit, EditablePolicy policy, JsonObject tree)
    {
        var partners = tree["partners"] switch
        {
            JsonArray list => list,
            JsonObject envelope => (JsonArray)envelope["value"]!,
            _ => null,
        };
        switch (edit)
        {
            case "patch second partner":
                policy.Partner(1)["isServiceProvider"] = true;
                partners![1]!["isServiceProvider"] = true;
                break;
            case "remove first, add one":
                policy.RemovePartner(0);
                policy.AddPartner(NewPartner());
                partners!.RemoveAt(0);
                partners.Add(NewPartner());
                break;
            case "replace default":
                policy.ReplaceDefault(AdminApi.ServiceDefault());
                tree["default"] = AdminApi.ServiceDefault();
                break;
            case "patch default":
                policy.Default["inboundTrust"]!["isMfaAccepted"] = true;
                tree["default"]!["inboundTrust"]!["isMfaAccepted"] = true;
                break;
            case "add to none":
                policy.AddPartner(NewPartner());
                tree["partners"] = new JsonArray(NewPartner());
                break;
        }
    }

    private static JsonObject NewPartner() => new() { ["tenantId"] = Added.ToString(), ["b2bDirectConnectInbound"] = JsonNode.Parse(TestPolicies.AllowedAll) };

    private static JsonObject Document(bool envelope, bool withPartners)
    {
        var document = JsonNode.Parse(TestPolicies.Document(
            TestPolicies.Partner(TestIds.AllowedPartner, TestPolicies.AllowedAll, mfaAccepted: true),
            TestPolicies.Partner(TestIds.BlockedPartner, TestPolicies.BlockedAll),
            TestPolicies.Partner(TestIds.UnlistedTenant, TestPolicies.BlockedAll)))!.AsObject();
        document["tenantRestrictions"] = new JsonObject { ["kept"] = "as it was" };
        if (!withPartners)
        {
            document.Remove("partners");
        }
        else if (envelope)
        {
            document["partners"] = new JsonObject
            {
                ["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#policies/crossTenantAccessPolicy/partners",
                ["value"] = document["partners"]!.DeepClone(),
            };
        }

        return document;
    }

    private static PolicySnapshot Compile(ReadOnlyMemory<byte> utf8)
        => PolicyCompiler.Compile(utf8, TestIds.ResourceTenant, default, out var errors) ?? throw new InvalidOperationException(string.Join("; ", errors));
}
