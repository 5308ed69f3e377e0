using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using XtacGateway.Cli;
using XtacGateway.Hosting;
using XtacGateway.Policies;
using XtacGateway.Policy.Claims;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Model;
using XtacGateway.Policy.Validation;

namespace XtacGateway.Admin;

/// <summary>
/// The admin API on the management listener: Microsoft Graph's <c>/policies/crossTenantAccessPolicy</c> surface under
/// <c>/admin</c> (same verbs, bodies and status codes), plus reload, audit and a "what if" evaluation. Every response
/// carries the policy in force as <c>ETag</c> and <c>X-Xtac-Policy-Version</c>.
/// </summary>
internal static class AdminApi
{
    public const string PolicyVersionHeader = "X-Xtac-Policy-Version";
    private const string Base = "/admin/policies/crossTenantAccessPolicy";

    /// <summary>One partner with thousands of user targets is well under this; a body of Kestrel's default 30 MB is not an admin change.</summary>
    private const long MaxBodyBytes = 4 * 1024 * 1024;
    private const int AuditPageSize = 100;
    /// <summary>Entries in one audit response: each may carry a partner's configuration before and after.</summary>
    private const int AuditMaxPageSize = 1000;
    private const string Relative = "/policies/crossTenantAccessPolicy";

    /// <summary>Partners in one list response: 100,000 of them would be tens of MB in one answer.</summary>
    internal const int PartnerPageSize = 1000;

    public static WebApplicationBuilder AddXtacAdminApi(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<AdminOptions>().BindConfiguration(AdminOptions.Section);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IAuthorizationHandler, AdminRoleHandler>());
        services.AddAuthorizationBuilder()
            .AddPolicy(AdminPolicies.Read, policy => policy.RequireAuthenticatedUser().AddRequirements(new AdminRoleRequirement(Change: false)))
            .AddPolicy(AdminPolicies.Change, policy => policy.RequireAuthenticatedUser().AddRequirements(new AdminRoleRequirement(Change: true)));
        services.TryAddSingleton<PolicyEditor>();
        services.TryAddSingleton<FileAuditLog>();
        services.TryAddSingleton<IAuditLog>(sp => sp.GetService<RedisConnection>() is not null
            ? ActivatorUtilities.CreateInstance<RedisAuditLog>(sp)
            : sp.GetRequiredService<FileAuditLog>());
        return builder;
    }

    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder endpoints)
    {
        var admin = endpoints.MapGroup("/admin")
            .WithMetadata(new ManagementEndpointAttribute(), new Microsoft.AspNetCore.Mvc.RequestSizeLimitAttribute(MaxBodyBytes))
            .AddEndpointFilter(async (context, next) =>
            {
                var result = await next(context);
                // The snapshot the response was built from, not whatever is in force by now: a client's If-Match must
                // name the version it read.
                var snapshot = context.HttpContext.Features.Get<AnsweredFromFeature>()?.Snapshot
                    ?? context.HttpContext.RequestServices.GetRequiredService<PolicySnapshotStore>().Current;
                if (snapshot is not null)
                {
                    context.HttpContext.Response.Headers.ETag = snapshot.ETag;
                    context.HttpContext.Response.Headers[PolicyVersionHeader] = snapshot.Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }

                return result;
            });

        var read = admin.MapGroup(string.Empty).RequireAuthorization(AdminPolicies.Read);
        var change = admin.MapGroup(string.Empty).RequireAuthorization(AdminPolicies.Change);

        read.MapGet($"{Relative}/default", GetDefault);
        change.MapPatch($"{Relative}/default", PatchDefault);
        change.MapPost($"{Relative}/default/resetToSystemDefault", ResetDefault);
        read.MapGet($"{Relative}/partners", ListPartners);
        change.MapPost($"{Relative}/partners", AddPartner);
        read.MapGet($"{Relative}/partners/{{tenantId}}", GetPartner);
        change.MapPatch($"{Relative}/partners/{{tenantId}}", PatchPartner);
        change.MapDelete($"{Relative}/partners/{{tenantId}}", DeletePartner);
        change.MapPost("/policies/reload", Reload);
        read.MapGet("/audit", ReadAudit);
        read.MapPost("/evaluate", Evaluate);
        return endpoints;
    }

    private static IResult GetDefault(HttpContext context, PolicySnapshotStore store)
        => InForce(context, store) is not { } snapshot ? NoPolicy()
            // Read out of the document's bytes, no partner looked at (a typed model would hold every one of them).
            : Results.Json(EditablePolicy.Read(snapshot.DocumentUtf8).ExistingDefault?.Deserialize(PolicyJsonContext.Default.CrossTenantAccessPolicyConfigurationDefault)
                ?? new CrossTenantAccessPolicyConfigurationDefault(), PolicyJsonContext.Default.CrossTenantAccessPolicyConfigurationDefault);

    /// <summary>
    /// One page of partners, Graph's way: at most <c>$top</c> (default and most <see cref="PartnerPageSize"/>), and an
    /// <c>@odata.nextLink</c> while more follow. The link is bound to the policy it was given from: a page of another
    /// version could skip or repeat partners, so a link outliving its version is a 409 and the client lists again.
    /// </summary>
    private static IResult ListPartners(HttpContext context, PolicySnapshotStore store)
    {
        if (InForce(context, store) is not { } snapshot)
        {
            return NoPolicy();
        }

        var query = context.Request.Query;
        if (PageSize(query, "$top", PartnerPageSize, PartnerPageSize, out var size) is { } invalid)
        {
            return invalid;
        }

        var start = 0;
        if (query.TryGetValue("$skiptoken", out var skipToken))
        {
            if (!PartnerPageToken.TryRead(skipToken.ToString(), out var etag, out start))
            {
                return InvalidSkipToken();
            }

            if (etag != snapshot.ETag)
            {
                return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "The policy changed",
                    detail: $"This page's link was given for policy {etag}; the policy in force is {snapshot.ETag} (version {snapshot.Version}). List again from the first page.");
            }
        }

        // The page's partners read out of the document's bytes: a typed model of every partner is not built for a page.
        var document = EditablePolicy.Read(snapshot.DocumentUtf8);
        start = Math.Min(start, document.PartnerCount);
        var end = (int)Math.Min((long)start + size, document.PartnerCount);
        var page = new PartnerCollectionResponse { Value = [.. Enumerable.Range(start, end - start).Select(i => AsPartner(document.Partner(i)))] };
        if (end < document.PartnerCount)
        {
            var next = SkipToken.NextLink(context.Request, size, PartnerPageToken.Write(snapshot.ETag, end));
            page.AdditionalData = new() { ["@odata.nextLink"] = JsonSerializer.SerializeToElement(next, PolicyJsonContext.Default.String) };
        }

        return Results.Json(page, PolicyJsonContext.Default.PartnerCollectionResponse);
    }

    private static IResult GetPartner(string tenantId, HttpContext context, PolicySnapshotStore store)
    {
        if (InForce(context, store) is not { } snapshot)
        {
            return NoPolicy();
        }

        if (!Guid.TryParse(tenantId, out var tenant))
        {
            return BadTenantId(tenantId);
        }

        // The compiled partners answer a miss without expanding a large policy's document.
        if (!snapshot.HasPartner(tenant))
        {
            return PartnerNotFound(tenant);
        }

        return Results.Json(PartnerIn(snapshot, tenant), PolicyJsonContext.Default.CrossTenantAccessPolicyConfigurationPartner);
    }

    private static async Task<IResult> PatchDefault(HttpContext context, PolicyEditor editor)
    {
        var (body, invalid) = await ReadObjectAsync(context, s_defaultBody);
        if (body is null)
        {
            return invalid!;
        }

        // Graph's read-only marker: whether the default is the service's own follows from the change, never from the
        // body. A body that sends back the value read (a GET's copy, edited) or the one the change leads to passes; any
        // other is refused, so that no default claims to be the service default while it is not, and a reset is asked
        // for by its name.
        var sentMarker = body["isServiceDefault"];
        body.Remove("isServiceDefault");
        var miscased = PropertySpelling.Miscased(body, typeof(CrossTenantAccessPolicyConfigurationDefault)).ToArray();

        var result = await editor.EditAsync(policy =>
        {
            var defaults = policy.Default;

            // On a partner, null means "inherited from the default"; the default has nothing to inherit from, so a setting
            // it has cannot be cleared (a GET's copy, which shows a setting the default lacks as null, still passes).
            PolicyError[] clearedSettings = [.. body.Where(p => p.Value is null && s_defaultSettings.Contains(p.Key) && defaults[p.Key] is not null)
                .Select(p => new PolicyError($"$.{p.Key}",
                    $"The default's '{p.Key}' cannot be null: null means 'inherited from the default', which only a partner's settings can be. " +
                    $"Send the setting, or go back to the service default with POST {Base}/default/resetToSystemDefault."))];
            var changes = PolicyJson.Merge(defaults, (JsonObject)body.DeepClone());
            var wasServiceDefault = defaults["isServiceDefault"]?.GetValueKind() == JsonValueKind.True;
            var isServiceDefault = wasServiceDefault && changes.Count == 0;
            if (wasServiceDefault && !isServiceDefault)
            {
                // A changed default is no longer the service default.
                changes.Add(new AuditModifiedProperty("isServiceDefault", true, false));
                defaults["isServiceDefault"] = false;
            }

            PolicyError[] markerErrors = sentMarker is not null
                && (sentMarker.GetValueKind() is not (JsonValueKind.True or JsonValueKind.False)
                    || (sentMarker.GetValue<bool>() != wasServiceDefault && sentMarker.GetValue<bool>() != isServiceDefault))
                ? [new PolicyError("$.isServiceDefault",
                    $"Read-only: it says whether the default is the service's own ({Json(wasServiceDefault)} now, {Json(isServiceDefault)} after this change). " +
                    $"Leave it out, or go back to the service default with POST {Base}/default/resetToSystemDefault.")]
                : [];

            return new EditOutcome
            {
                ActivityDisplayName = "Update the company default cross-tenant access setting",
                EditedPath = "$.default",
                Changes = changes,
                BodyErrors = [.. markerErrors, .. clearedSettings, .. miscased],
            };
        }, IfMatch(context), Actor(context.User), context.RequestAborted);
        return ToResult(context, result, Results.NoContent());
    }

    private static async Task<IResult> ResetDefault(HttpContext context, PolicyEditor editor)
    {
        var result = await editor.EditAsync(policy =>
        {
            var before = policy.ExistingDefault;
            var after = ServiceDefault();
            var changes = PolicyJson.Diff(before, after);
            policy.ReplaceDefault(after);
            return new EditOutcome { ActivityDisplayName = "Reset the cross-tenant access default setting", EditedPath = "$.default", Changes = changes };
        }, IfMatch(context), Actor(context.User), context.RequestAborted);
        return ToResult(context, result, Results.NoContent());
    }

    private static async Task<IResult> AddPartner(HttpContext context, PolicyEditor editor)
    {
        var (body, invalid) = await ReadObjectAsync(context, s_partnerBody);
        if (body is null)
        {
            return invalid!;
        }

        var miscased = PropertySpelling.Miscased(body, typeof(CrossTenantAccessPolicyConfigurationPartner)).ToArray();
        if (body.All(property => property.Value is null))
        {
            // Nothing to diff ({} or every property null), so the editor would see no change: the missing tenantId is the error.
            return Validation([new PolicyError("$.tenantId", "A partner needs a 'tenantId': the partner organisation's tenant ID (a GUID)."), .. miscased]);
        }

        // A missing or malformed tenantId is left to the policy's validation, which reports it with every other error.
        Guid? tenant = body["tenantId"] is JsonValue tenantValue && tenantValue.TryGetValue<string>(out var tenantText) && Guid.TryParse(tenantText, out var parsed)
            ? parsed
            : null;

        var result = await editor.EditAsync(policy =>
        {
            if (tenant is { } id && policy.IndexOf(id) >= 0)
            {
                return EditOutcome.Fail(EditStatus.Conflict, $"Tenant {id} is already a partner; change it with PATCH {Base}/partners/{id}.");
            }

            var added = (JsonObject)body.DeepClone();
            var index = policy.AddPartner(added);
            return new EditOutcome
            {
                ActivityDisplayName = "Add a partner to cross-tenant access setting",
                TargetTenant = tenant,
                EditedPath = policy.PartnerPath(index),
                Changes = PolicyJson.Diff(null, added),
                BodyErrors = miscased,
            };
        }, IfMatch(context), Actor(context.User), context.RequestAborted);

        if (result.Kind == EditResultKind.Committed)
        {
            Answer(context, result.Snapshot);
            // Committed, so validation found a GUID tenantId, and the partner is stored as it was added.
            var created = AsPartner(result.Edited!);
            context.Response.Headers.Location = $"{Base}/partners/{tenant}";
            return Results.Json(created, PolicyJsonContext.Default.CrossTenantAccessPolicyConfigurationPartner, statusCode: StatusCodes.Status201Created);
        }

        return ToResult(context, result, Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Partner unchanged", detail: $"Tenant {tenant} is already configured exactly so."));
    }

    private static async Task<IResult> PatchPartner(string tenantId, HttpContext context, PolicyEditor editor)
    {
        if (!Guid.TryParse(tenantId, out var tenant))
        {
            return BadTenantId(tenantId);
        }

        var (body, invalid) = await ReadObjectAsync(context, s_partnerBody);
        if (body is null)
        {
            return invalid!;
        }

        // Reported with whatever else is wrong in the body. The same tenant, perhaps spelled otherwise ({...}, upper
        // case), is no error: nothing to merge, and the stored spelling stays.
        PolicyError[] tenantErrors = body.TryGetPropertyValue("tenantId", out var sent) && !(sent is JsonValue v && v.TryGetValue<string>(out var text) && Guid.TryParse(text, out var id) && id == tenant)
            ? [new PolicyError("$.tenantId", $"'tenantId' cannot change: this partner is {tenant}.")]
            : [];
        body.Remove("tenantId");
        PolicyError[] bodyErrors = [.. tenantErrors, .. PropertySpelling.Miscased(body, typeof(CrossTenantAccessPolicyConfigurationPartner))];

        var result = await editor.EditAsync(policy =>
        {
            var index = policy.IndexOf(tenant);
            if (index < 0)
            {
                return EditOutcome.Fail(EditStatus.NotFound, $"Tenant {tenant} is not a partner.");
            }

            var changes = PolicyJson.Merge(policy.Partner(index), (JsonObject)body.DeepClone());
            return new EditOutcome
            {
                ActivityDisplayName = "Update a partner cross-tenant access setting",
                TargetTenant = tenant,
                EditedPath = policy.PartnerPath(index),
                Changes = changes,
                BodyErrors = bodyErrors,
            };
        }, IfMatch(context), Actor(context.User), context.RequestAborted);
        return ToResult(context, result, Results.NoContent());
    }

    private static async Task<IResult> DeletePartner(string tenantId, HttpContext context, PolicyEditor editor)
    {
        if (!Guid.TryParse(tenantId, out var tenant))
        {
            return BadTenantId(tenantId);
        }

        var result = await editor.EditAsync(policy =>
        {
            var index = policy.IndexOf(tenant);
            if (index < 0)
            {
                return EditOutcome.Fail(EditStatus.NotFound, $"Tenant {tenant} is not a partner.");
            }

            var removed = policy.Partner(index);
            if (removed["isServiceProvider"]?.GetValueKind() == JsonValueKind.True)
            {
                return EditOutcome.Fail(EditStatus.Conflict,
                    $"Tenant {tenant} is a service provider (isServiceProvider: true) and cannot be removed; PATCH it with \"isServiceProvider\": false first.");
            }

            policy.RemovePartner(index);
            return new EditOutcome
            {
                ActivityDisplayName = "Delete partner specific cross-tenant access setting",
                TargetTenant = tenant,
                Changes = PolicyJson.Diff(removed, null),
            };
        }, IfMatch(context), Actor(context.User), context.RequestAborted);
        return ToResult(context, result, Results.NoContent());
    }

    private static async Task<IResult> Reload(HttpContext context, IPolicySource source, PolicySnapshotStore store, CancellationToken cancellationToken)
    {
        try
        {
            await source.ReloadAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A timeout reading the source is an OperationCanceledException too; only the caller's own going away is not answered.
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Policy source unavailable",
                detail: $"The {source.Name} policy source could not be read; the policy in force (version {store.Current?.Version}) is unchanged: {ex.Message}");
        }

        return InForce(context, store) is { } snapshot
            ? Results.Json(new JsonObject { ["version"] = snapshot.Version, ["etag"] = snapshot.ETag, ["source"] = source.Name, ["partners"] = snapshot.PartnerCount }, AdminJsonContext.Default.JsonObject)
            : NoPolicy();
    }

    /// <summary>
    /// The entries, newest first, a page at a time: <c>$top</c> of them as Graph's directory audits take it (<c>top</c>
    /// too), 100 by default, and an <c>@odata.nextLink</c> to the older ones while any are left.
    /// </summary>
    private static async Task<IResult> ReadAudit(HttpContext context, IAuditLog audit)
    {
        var query = context.Request.Query;
        if (PageSize(query, query.ContainsKey("$top") ? "$top" : "top", AuditPageSize, AuditMaxPageSize, out var top) is { } invalid)
        {
            return invalid;
        }

        string? before = null;
        if (query.TryGetValue("$skiptoken", out var skipToken) && !SkipToken.TryRead(skipToken.ToString(), out before))
        {
            return InvalidSkipToken();
        }

        try
        {
            var page = await audit.ReadAsync(top, before, context.RequestAborted);
            return Results.Json(
                new AuditEntryList(page.Entries) { NextLink = page.Next is { } next ? SkipToken.NextLink(context.Request, top, SkipToken.Write(next)) : null },
                AdminJsonContext.Default.AuditEntryList);
        }
        catch (AuditPositionException ex) when (ex.IsStale)
        {
            return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "The audit log changed",
                detail: $"{ex.Message} List again from the first page.");
        }
        catch (AuditPositionException)
        {
            return InvalidSkipToken();
        }
        catch (Exception ex) when (RedisConnection.IsUnreachable(ex) || ex is RedisServerException or IOException or UnauthorizedAccessException)
        {
            // Unreachable, answering but refusing (a key of another type under the stream's name), or a file that
            // cannot be read: either way the log cannot be read now, which is not a fault of the caller's.
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Audit log unavailable", detail: ex.Message);
        }
    }

    /// <summary>The page size the query asks for with <paramref name="name"/>, else <paramref name="size"/>; a 400 naming it when it is not 1 to <paramref name="most"/>.</summary>
    private static IResult? PageSize(IQueryCollection query, string name, int size, int most, out int top)
    {
        top = size;
        return !query.TryGetValue(name, out var text)
            || (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out top) && top is >= 1 && top <= most)
            ? null
            : Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: $"Invalid {name}",
                detail: $"'{name}' must be a whole number from 1 to {most}, not '{text}'.");
    }

    private static IResult InvalidSkipToken()
        => Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid $skiptoken",
            detail: "'$skiptoken' is not one this API gave in an '@odata.nextLink'; list again from the first page.");

    private static async Task<IResult> Evaluate(HttpContext context, PolicySnapshotStore store, IOptions<GatewayOptions> options)
    {
        var (bytes, invalid) = await ReadUtf8BodyAsync(context);
        if (invalid is not null)
        {
            return invalid;
        }

        JsonDocument input;
        try
        {
            input = JsonDocument.Parse(bytes);
        }
        catch (JsonException ex)
        {
            return Validation([PolicyParser.MalformedJsonError(ex)]);
        }

        using (input)
        {
            var errors = new List<string>();
            var requests = EvaluationContract.ReadRequests(input.RootElement, new CallerFactsReader(options.Value.Claims), errors);
            var resourceTenant = options.Value.ResourceTenantId!.Value;
            if (requests is not null)
            {
                for (var i = 0; i < requests.Count; i++)
                {
                    if (requests[i].ResourceTenantId is { } own && own != resourceTenant)
                    {
                        var path = input.RootElement.ValueKind == JsonValueKind.Array ? $"$[{i}]" : "$";
                        errors.Add($"{path}.resourceTenantId: {own} is not this gateway's resource tenant {resourceTenant}.");
                    }
                }
            }

            if (requests is null || errors.Count > 0)
            {
                return Validation([.. errors.Select(ToPolicyError)]);
            }

            if (InForce(context, store) is not { } snapshot)
            {
                return NoPolicy();
            }

            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            {
                var array = input.RootElement.ValueKind == JsonValueKind.Array;
                if (array)
                {
                    writer.WriteStartArray();
                }

                foreach (var request in requests)
                {
                    EvaluationContract.WriteDecision(writer, snapshot.Decide(request.Caller, request.Application));
                }

                if (array)
                {
                    writer.WriteEndArray();
                }
            }

            return Results.Bytes(buffer.ToArray(), "application/json");
        }
    }

    private static IResult ToResult(HttpContext context, EditResult result, IResult success)
    {
        Answer(context, result.Snapshot);
        return result.Kind switch
        {
            EditResultKind.Committed or EditResultKind.Unchanged => success,
            EditResultKind.Invalid => Validation(result.Errors ?? []),
            EditResultKind.NotFound => Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: result.Detail),
            EditResultKind.Conflict => Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: result.Detail),
            EditResultKind.PreconditionFailed => Results.Problem(statusCode: StatusCodes.Status412PreconditionFailed, title: "The policy changed", detail: result.Detail),
            EditResultKind.ReadOnly => Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "The policy is read-only here", detail: result.Detail),
            _ => Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Policy store unavailable", detail: result.Detail),
        };
    }

    /// <summary>The policy in force, remembered as the one this response describes.</summary>
    private static PolicySnapshot? InForce(HttpContext context, PolicySnapshotStore store) => Answer(context, store.Current);

    private static PolicySnapshot? Answer(HttpContext context, PolicySnapshot? snapshot)
    {
        if (snapshot is not null)
        {
            context.Features.Set(new AnsweredFromFeature(snapshot));
        }

        return snapshot;
    }

    private static IResult Validation(IEnumerable<PolicyError> errors)
        => Results.ValidationProblem(
            errors.GroupBy(e => e.Path).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()),
            detail: "The request is invalid; nothing changed. Each error is listed under its JSON path.",
            title: "Invalid cross-tenant access policy");

    private static PolicyError ToPolicyError(string error)
    {
        var colon = error.IndexOf(": ", StringComparison.Ordinal);
        return colon > 0 && error.StartsWith('$') ? new PolicyError(error[..colon], error[(colon + 2)..]) : new PolicyError("$", error);
    }

    private static string Json(bool value) => value ? "true" : "false";

    private static IResult InvalidBody()
        => Validation([new PolicyError("$", "The request body must be a JSON object.")]);

    private static IResult BadTenantId(string tenantId)
        => Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid tenant ID", detail: $"'{tenantId}' is not a tenant ID (a GUID).");

    /// <summary>
    /// A partner the snapshot is known to hold, as stored: read out of the document's bytes, not from a model of every partner (of
    /// 100,000, say) built for the one asked for.
    /// </summary>
    private static CrossTenantAccessPolicyConfigurationPartner PartnerIn(PolicySnapshot snapshot, Guid tenant)
    {
        var document = EditablePolicy.Read(snapshot.DocumentUtf8);
        return AsPartner(document.Partner(document.IndexOf(tenant)));
    }

    private static CrossTenantAccessPolicyConfigurationPartner AsPartner(JsonNode partner)
        => partner.Deserialize(PolicyJsonContext.Default.CrossTenantAccessPolicyConfigurationPartner)!;

    private static IResult PartnerNotFound(Guid tenant)
        => Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"Tenant {tenant} is not a partner.");

    private static IResult NoPolicy()
        => Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "No policy loaded",
            detail: "No policy snapshot is loaded yet: cross-tenant requests are denied until the policy source is reachable.");

    private static string? IfMatch(HttpContext context)
        => context.Request.Headers.IfMatch is { Count: > 0 } values ? values.ToString() : null;

    /// <summary>
    /// The request body as a JSON object, or the 400 to answer: malformed JSON (with its line and position), a
    /// property given twice (which JSON objects would otherwise only notice when first used, as a 500), nesting deeper
    /// than the policy can hold it, not an object.
    /// </summary>
    private static async Task<(JsonObject? Body, IResult? Invalid)> ReadObjectAsync(HttpContext context, JsonDocumentOptions options)
    {
        var (bytes, invalid) = await ReadUtf8BodyAsync(context);
        if (invalid is not null)
        {
            return (null, invalid);
        }

        try
        {
            var node = JsonNode.Parse(bytes.Span, documentOptions: options);
            return node is JsonObject body ? (body, null) : (null, InvalidBody());
        }
        catch (JsonException ex)
        {
            return (null, Validation([PolicyParser.MalformedJsonError(ex)]));
        }
    }

    /// <summary>The whole request body (at most <see cref="MaxBodyBytes"/>) without a byte order mark, or the 400 or 413 to answer when it is not UTF-8 or too large.</summary>
    private static async Task<(ReadOnlyMemory<byte> Body, IResult? Invalid)> ReadUtf8BodyAsync(HttpContext context)
    {
        var buffer = new MemoryStream();
        try
        {
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (default, BodyTooLarge());
        }

        var bytes = PolicyParser.AsJsonText(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), out var notText);
        return notText is null ? (bytes, null) : (default, Validation([notText]));
    }

    private static IResult BodyTooLarge()
        => Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Request body too large",
            detail: $"The admin API takes request bodies of up to {MaxBodyBytes / (1024 * 1024)} MiB; nothing changed.");

    // A body lands one level into the document (the default) or up to three (a partner, in the partners array, which
    // Graph's list shape wraps in an object): refused at its own line and byte when it could nest the document deeper
    // than a policy may be.
    private static readonly JsonDocumentOptions s_defaultBody = new() { AllowDuplicateProperties = false, MaxDepth = PolicyParser.MaxDepth - 1 };
    private static readonly JsonDocumentOptions s_partnerBody = new() { AllowDuplicateProperties = false, MaxDepth = PolicyParser.MaxDepth - 3 };

    private static AuditActor Actor(ClaimsPrincipal user)
    {
        var roles = user.FindAll("wids").Select(c => AdminRoles.Names.TryGetValue(c.Value, out var name) ? name : c.Value)
            .Concat(user.FindAll("roles").Select(c => c.Value))
            .Distinct()
            .ToArray();
        return new AuditActor(user.FindFirstValue("oid"), user.FindFirstValue("tid"), user.FindFirstValue("azp") ?? user.FindFirstValue("appid"), roles);
    }

    /// <summary>The settings the default always has (every one but the read-only marker).</summary>
    private static readonly HashSet<string> s_defaultSettings = [.. ServiceDefault().Select(p => p.Key).Where(k => k != "isServiceDefault")];

    /// <summary>What a new tenant has (domain.md section 2), and what <c>resetToSystemDefault</c> restores.</summary>
    internal static JsonObject ServiceDefault()
    {
        static JsonObject Setting(string access) => new()
        {
            ["usersAndGroups"] = new JsonObject { ["accessType"] = access, ["targets"] = new JsonArray(new JsonObject { ["target"] = "AllUsers", ["targetType"] = "user" }) },
            ["applications"] = new JsonObject { ["accessType"] = access, ["targets"] = new JsonArray(new JsonObject { ["target"] = "AllApplications", ["targetType"] = "application" }) },
        };

        return new JsonObject
        {
            ["isServiceDefault"] = true,
            ["inboundTrust"] = new JsonObject { ["isMfaAccepted"] = false, ["isCompliantDeviceAccepted"] = false, ["isHybridAzureADJoinedDeviceAccepted"] = false },
            ["automaticUserConsentSettings"] = new JsonObject { ["inboundAllowed"] = false, ["outboundAllowed"] = false },
            ["b2bDirectConnectInbound"] = Setting("blocked"),
            ["b2bDirectConnectOutbound"] = Setting("blocked"),
            ["b2bCollaborationInbound"] = Setting("allowed"),
            ["b2bCollaborationOutbound"] = Setting("allowed"),
        };
    }
}

/// <summary>
/// A <c>$skiptoken</c>: where the next page starts, in the API's own terms, as base64url (opaque to clients, and
/// needing no escaping in a URL).
/// </summary>
internal static class SkipToken
{
    public static string Write(string text) => System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.UTF8.GetBytes(text));

    public static bool TryRead(string token, out string text)
    {
        text = string.Empty;
        if (token.Length is 0 or > 512 || !System.Buffers.Text.Base64Url.IsValid(token))
        {
            return false;
        }

        text = System.Text.Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(token));
        return true;
    }

    /// <summary>A position made of a number and a text (<c>number:text</c>): where a page starts, and what it is bound to.</summary>
    public static string Join(long number, string text) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{number}:{text}");

    /// <summary>The number and text of <see cref="Join"/>; false for anything else (no number, a negative one, no text).</summary>
    public static bool TrySplit(string position, out long number, out string text)
    {
        var colon = position.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0 && colon < position.Length - 1
            && long.TryParse(position.AsSpan(0, colon), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out number))
        {
            text = position[(colon + 1)..];
            return true;
        }

        number = 0;
        text = string.Empty;
        return false;
    }

    /// <summary>The request's own URL with the next page's <c>$top</c> and <c>$skiptoken</c>, for <c>@odata.nextLink</c>.</summary>
    public static string NextLink(HttpRequest request, int top, string token)
        => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{request.Scheme}://{request.Host}{request.PathBase}{request.Path}?$top={top}&$skiptoken={token}");
}

/// <summary>The <c>$skiptoken</c> of a partner page: where the page starts and the ETag of the policy it was given from.</summary>
internal static class PartnerPageToken
{
    public static string Write(string etag, int start) => SkipToken.Write(SkipToken.Join(start, etag));

    public static bool TryRead(string token, out string etag, out int start)
    {
        start = 0;
        if (!SkipToken.TryRead(token, out var text) || !SkipToken.TrySplit(text, out var number, out etag) || number > int.MaxValue)
        {
            etag = string.Empty;
            return false;
        }

        start = (int)number;
        return true;
    }
}

/// <summary>The policy an admin response was built from, for its ETag and version headers.</summary>
internal sealed record AnsweredFromFeature(PolicySnapshot Snapshot);
