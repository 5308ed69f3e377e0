using System.Text;
using System.Text.Json;
using XtacGateway.Policy.Claims;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Evaluation;
using XtacGateway.Policy.Validation;

namespace XtacGateway.Cli;

/// <summary>
/// <c>evaluate --policy FILE --input FILE [--resource-tenant GUID]</c>: decisions as JSON on stdout (exit 0), or the
/// reasons on stderr and nothing on stdout (exit 2).
/// </summary>
internal static class EvaluateCommand
{
    private static readonly HashSet<string> s_options = ["policy", "input", "resource-tenant"];

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var options = CommandOptions.Parse(args, s_options);
        var policyPath = options.Required("policy");
        var inputPath = options.Required("input");
        var resourceTenant = options.Guid("resource-tenant");

        var policyBytes = await PolicyFile.ReadAsync(policyPath, stderr);
        var inputBytes = await PolicyFile.ReadAsync(inputPath, stderr);
        if (policyBytes is null || inputBytes is null)
        {
            return CommandLine.UsageError;
        }

        // Checked whole before any request, so that an invalid policy fails even with no request to decide; each
        // resource tenant's own checks (a partner that is the tenant itself) follow when its snapshot is compiled.
        var checkedPolicy = PolicyParser.Parse(policyBytes, resourceTenant);
        if (!checkedPolicy.IsValid)
        {
            return await FailAsync(stderr, policyPath, checkedPolicy.Errors.Select(e => e.ToString()));
        }

        // The caller is read as the gateway reads it: with the claim names of its Xtac:Claims settings.
        var claimNames = CommandLine.LoadConfiguration().GetSection($"{GatewayOptions.Section}:Claims").Get<ClaimNames>() ?? ClaimNames.Default;
        if (GatewayOptions.ClaimNameErrors(claimNames).ToList() is { Count: > 0 } claimErrors)
        {
            // The gateway would not start with these; deciding with them would answer for a gateway that cannot exist.
            throw new UsageException(string.Join(" ", claimErrors));
        }

        var inputJson = PolicyParser.AsJsonText(inputBytes, out var notText);
        if (notText is not null)
        {
            await stderr.WriteLineAsync($"{inputPath}: {notText.Message}");
            return CommandLine.UsageError;
        }

        JsonDocument input;
        try
        {
            input = JsonDocument.Parse(inputJson);
        }
        catch (JsonException ex)
        {
            await stderr.WriteLineAsync($"{inputPath}: {PolicyParser.MalformedJsonError(ex).Message}");
            return CommandLine.UsageError;
        }

        using (input)
        {
            var errors = new List<string>();
            var requests = EvaluationContract.ReadRequests(input.RootElement, new CallerFactsReader(claimNames), errors);
            if (requests is null)
            {
                return await FailAsync(stderr, inputPath, errors);
            }

            var snapshots = new Dictionary<Guid, PolicySnapshot>();
            if (resourceTenant is { } given)
            {
                // Already parsed for this tenant above.
                snapshots[given] = PolicyCompiler.Compile(checkedPolicy.Document!, given);
            }

            var decisions = new List<Decision>(requests.Count);
            for (var i = 0; i < requests.Count; i++)
            {
                var request = requests[i];
                if (resourceTenant is { } fixedTenant && request.ResourceTenantId is { } own && own != fixedTenant)
                {
                    errors.Add($"$[{i}].resourceTenantId: {own} differs from --resource-tenant {fixedTenant}.");
                    continue;
                }

                if ((request.ResourceTenantId ?? resourceTenant) is not { } tenant)
                {
                    errors.Add($"$[{i}].resourceTenantId: required unless --resource-tenant is given.");
                    continue;
                }

                if (!snapshots.TryGetValue(tenant, out var snapshot))
                {
                    var parsed = PolicyParser.Parse(policyBytes, tenant);
                    if (!parsed.IsValid)
                    {
                        return await FailAsync(stderr, policyPath, parsed.Errors.Select(e => e.ToString()));
                    }

                    snapshots[tenant] = snapshot = PolicyCompiler.Compile(parsed.Document!, tenant);
                }

                decisions.Add(snapshot.Decide(request.Caller, request.Application));
            }

            if (errors.Count > 0)
            {
                return await FailAsync(stderr, inputPath, errors);
            }

            await stdout.WriteLineAsync(Render(decisions, asArray: input.RootElement.ValueKind == JsonValueKind.Array));
            return CommandLine.Success;
        }
    }

    private static string Render(List<Decision> decisions, bool asArray)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            if (asArray)
            {
                writer.WriteStartArray();
            }

            foreach (var decision in decisions)
            {
                EvaluationContract.WriteDecision(writer, decision);
            }

            if (asArray)
            {
                writer.WriteEndArray();
            }
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static async Task<int> FailAsync(TextWriter stderr, string file, IEnumerable<string> errors)
    {
        await stderr.WriteLineAsync($"{file}: invalid.");
        foreach (var error in errors)
        {
            await stderr.WriteLineAsync(error);
        }

        return CommandLine.UsageError;
    }
}
