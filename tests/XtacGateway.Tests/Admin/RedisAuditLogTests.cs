using System.Text.Json.Nodes;
using XtacGateway.Admin;

namespace XtacGateway.Tests.Admin;

public sealed class RedisAuditLogTests
{
    [Fact]
    public void CutAtVersion_ChangedValuesNamePolicyVersionToo_JoinedEntryCarriesTheVersionGiven()
    {
        // A PATCH may add unknown properties, so a changed value can hold a "policyVersion" of its own; the cut must be at
        // the entry's property, and joining head, version and tail as the compare-and-set script does gives the entry back.
        var entry = new AuditEntry
        {
            Id = "1",
            ActivityDateTime = DateTimeOffset.UnixEpoch,
            ActivityDisplayName = "Update a partner cross-tenant access setting",
            InitiatedBy = new AuditActor("\"policyVersion\":-9223372036854775808", null, null, ["policyVersion"]),
            TargetTenantId = "policyVersion",
            PolicyETag = "\"abc\"",
            ModifiedProperties =
            [
                new AuditModifiedProperty("policyVersion", null, JsonNode.Parse("""{ "policyVersion": -9223372036854775808 }""")),
            ],
        };

        var (head, tail) = RedisAuditLog.CutAtVersion(entry);
        var joined = AuditEntry.TryParse(head + "42" + tail);

        Assert.NotNull(joined);
        Assert.Equal(42, joined.PolicyVersion);
        Assert.Equal(entry.InitiatedBy.ObjectId, joined.InitiatedBy.ObjectId);
        Assert.Equal(-9223372036854775808, (long)joined.ModifiedProperties[0].NewValue!["policyVersion"]!);
        Assert.Equal("\"abc\"", joined.PolicyETag);
    }
}
