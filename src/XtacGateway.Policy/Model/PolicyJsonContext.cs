using System.Text.Json;
using System.Text.Json.Serialization;

namespace XtacGateway.Policy.Model;

/// <summary>Source-generated System.Text.Json metadata for every policy type; no reflection on any path.</summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = false,
    Converters = [typeof(KeywordStringConverter)])]
[JsonSerializable(typeof(PolicyDocument))]
[JsonSerializable(typeof(PartnerCollectionResponse))]
[JsonSerializable(typeof(CrossTenantAccessPolicyConfigurationDefault))]
[JsonSerializable(typeof(CrossTenantAccessPolicyConfigurationPartner))]
[JsonSerializable(typeof(JsonElement))]
public sealed partial class PolicyJsonContext : JsonSerializerContext;
