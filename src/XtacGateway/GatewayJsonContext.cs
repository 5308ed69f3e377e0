using System.Text.Json;
using System.Text.Json.Serialization;

namespace XtacGateway;

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ReadinessReport))]
internal sealed partial class GatewayJsonContext : JsonSerializerContext;
