using System.Text.Json;
using XtacGateway.Policy.Claims;
using XtacGateway.Policy.Evaluation;

namespace XtacGateway.Cli;

/// <summary>One "what if" request: who calls which app, as the <c>evaluate</c> command and <c>POST /admin/evaluate</c> take it.</summary>
internal sealed record EvaluationRequest(Guid? ResourceTenantId, AppPolicy Application, CallerFacts Caller);

/// <summary>The request and decision shapes of <c>evaluate</c>; one definition for the command and the admin API.</summary>
internal static class EvaluationContract
{
    /// <summary>Reads one request object or an array of them; every problem is reported with its JSON path.</summary>
    public static IReadOnlyList<EvaluationRequest>? ReadRequests(JsonElement root, CallerFactsReader reader, List<string> errors)
    {
        var requests = new List<EvaluationRequest>();
        if (root.ValueKind == JsonValueKind.Array)
        {
            var index = 0;
            foreach (var item in root.EnumerateArray())
            {
                if (ReadRequest(item, $"$[{index++}]", reader, errors) is { } request)
                {
                    requests.Add(request);
                }
            }
        }
        else if (ReadRequest(root, "$", reader, errors) is { } request)
        {
            requests.Add(request);
        }

        return errors.Count == 0 ? requests : null;
    }

    private static EvaluationRequest? ReadRequest(JsonElement element, string path, CallerFactsReader reader, List<string> errors)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            errors.Add($"{path}: a request must be an object with 'application' and 'claims'.");
            return null;
        }

        var start = errors.Count;
        Guid? resourceTenant = null;
        if (element.TryGetProperty("resourceTenantId", out var tenant) && tenant.ValueKind != JsonValueKind.Null)
        {
            if (tenant.ValueKind == JsonValueKind.String && Guid.TryParse(tenant.GetString(), out var id))
            {
                resourceTenant = id;
            }
            else
            {
                errors.Add($"{path}.resourceTenantId: must be a tenant ID (a GUID).");
            }
        }

        AppPolicy? app = null;
        if (!element.TryGetProperty("application", out var application) || application.ValueKind != JsonValueKind.Object)
        {
            errors.Add($"{path}.application: required, an object with 'appId' and optional 'grantControls'.");
        }
        else
        {
            app = ReadApplication(application, $"{path}.application", errors);
        }

        if (!element.TryGetProperty("claims", out var claims) || claims.ValueKind != JsonValueKind.Object)
        {
            errors.Add($"{path}.claims: required, an object of token claims.");
            return null;
        }

        return errors.Count == start && app is not null
            ? new EvaluationRequest(resourceTenant, app, reader.Read(new JsonClaimSource(claims.Clone())))
            : null;
    }

    private static AppPolicy? ReadApplication(JsonElement application, string path, List<string> errors)
    {
        string? appId = null;
        if (application.TryGetProperty("appId", out var id) && id.ValueKind == JsonValueKind.String)
        {
            appId = id.GetString();
        }

        string? op = null;
        var controls = new List<string>();
        if (application.TryGetProperty("grantControls", out var grant) && grant.ValueKind != JsonValueKind.Null)
        {
            if (grant.ValueKind != JsonValueKind.Object)
            {
                errors.Add($"{path}.grantControls: must be an object with 'operator' and 'builtInControls'.");
                return null;
            }

            // A shape the route metadata could not have is an error, not a default: "builtInControls": "mfa" read as
            // no controls would answer "allow" where the route requiring MFA denies.
            if (grant.TryGetProperty("operator", out var opElement) && opElement.ValueKind != JsonValueKind.Null)
            {
                if (opElement.ValueKind != JsonValueKind.String)
                {
                    errors.Add($"{path}.grantControls.operator: must be \"AND\" or \"OR\".");
                    return null;
                }

                op = opElement.GetString();
            }

            if (grant.TryGetProperty("builtInControls", out var list) && list.ValueKind != JsonValueKind.Null)
            {
                if (list.ValueKind != JsonValueKind.Array)
                {
                    errors.Add($"{path}.grantControls.builtInControls: must be an array of control names (mfa, compliantDevice, domainJoinedDevice, block).");
                    return null;
                }

                foreach (var control in list.EnumerateArray())
                {
                    controls.Add(control.ValueKind == JsonValueKind.String ? control.GetString()! : control.GetRawText());
                }
            }
        }

        var appErrors = new List<string>();
        var app = AppPolicy.TryCreate(appId, op, controls, appErrors);
        foreach (var error in appErrors)
        {
            errors.Add($"{path}: {error}");
        }

        return app;
    }

    public static void WriteDecision(Utf8JsonWriter writer, Decision decision)
    {
        writer.WriteStartObject();
        writer.WriteString("decision", decision.Verdict);
        writer.WriteString("reason", decision.ReasonName);
        if (decision.ErrorCode is { } code)
        {
            writer.WriteString("errorCode", code);
        }
        else
        {
            writer.WriteNull("errorCode");
        }

        if (decision.HomeTenantId is { } home)
        {
            writer.WriteString("homeTenantId", home);
        }
        else
        {
            writer.WriteNull("homeTenantId");
        }

        writer.WriteString("settingsSource", decision.SourceName);
        writer.WriteString("detail", decision.Detail);
        writer.WriteEndObject();
    }
}
