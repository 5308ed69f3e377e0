using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.Identity.Abstractions;
using XtacGateway.Admin;
using XtacGateway.Observability;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Model;

namespace XtacGateway.Policies;

/// <summary>
/// Mirrors the organisation's own cross-tenant access policy from Microsoft Graph: <c>GET
/// /policies/crossTenantAccessPolicy/default</c> and <c>/partners</c> (following <c>@odata.nextLink</c>), with an
/// app-only token, periodically and on demand. Graph owns the policy, so the admin API cannot change it here.
/// </summary>
internal sealed class GraphPolicySource(
    PolicySnapshotStore store,
    IHttpClientFactory httpClientFactory,
    GraphTokenProvider tokens,
    LastKnownGoodStore lastKnownGood,
    IOptions<GatewayOptions> gatewayOptions,
    IOptions<PolicySourceOptions> sourceOptions,
    TimeProvider time,
    GatewayTelemetry telemetry,
    ILogger<GraphPolicySource> logger) : BackgroundService, IPolicySource
{
    public const string HttpClientName = "xtac-graph";

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly GraphPolicySourceOptions _options = sourceOptions.Value.Graph;
    private readonly Guid _resourceTenant = gatewayOptions.Value.ResourceTenantId!.Value;
    private readonly SourceHealth _health = new("graph", sourceOptions.Value.Graph.RefreshInterval, store, sourceOptions.Value, telemetry, time, logger);

    public string Name => "graph";

    public string? ReadOnlyReason => ReadOnlyDetail;

    private const string ReadOnlyDetail = "The policy source is Microsoft Graph: change the cross-tenant access settings in Entra (or through Graph); this gateway mirrors them.";

    private Uri BaseUrl => _options.BaseUrl.AbsoluteUri.EndsWith('/') ? _options.BaseUrl : new Uri(_options.BaseUrl.AbsoluteUri + "/");

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // Bounded: a throttled or slow Graph (up to five attempts a page, each may wait MaxRetryAfter) must not keep the
        // instance from listening; it starts from the last known good policy and the background pull finishes the job.
        using var startup = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        startup.CancelAfter(_options.StartupWait);
        try
        {
            await PullAsync(startup.Token);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Whatever Graph answered (an HttpClient timeout included), or the wait ran out: the instance starts, as the
            // background pull would keep it running.
            _health.FailedAtStart(lastKnownGood, _resourceTenant, ex is OperationCanceledException && startup.IsCancellationRequested
                ? new TimeoutException($"Microsoft Graph did not deliver the whole policy within {_options.StartupWait.TotalSeconds:F0} s ('{PolicySourceOptions.Section}:Graph:StartupWait').")
                : ex);
        }

        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await _health.WaitAsync(stoppingToken))
                {
                    await PullAsync(stoppingToken);
                    _health.Succeeded();
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Whatever Graph answered, this instance keeps the policy in force and tries again; it must never stop
                // the host.
                _health.Failed(ex);
            }
        }
    }

    /// <summary>Pulls the whole policy from Graph now and swaps it in when it differs from the one in force.</summary>
    public Task ReloadAsync(CancellationToken cancellationToken) => _health.ReportAsync(PullAsync(cancellationToken), cancellationToken);

    private async Task PullAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            using var deadline = new CancellationTokenSource(_options.PullTimeout, time);
            using var pull = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
            await GatewayTelemetry.InPolicyLoadAsync(Name, async () =>
            {
                try
                {
                    await ReadPolicyAsync(pull.Token);
                    return true;
                }
                catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    throw new TimeoutException(
                        $"Microsoft Graph did not deliver the whole policy within {_options.PullTimeout.TotalSeconds:F0} s ('{PolicySourceOptions.Section}:Graph:PullTimeout'); the policy in force is unchanged.");
                }
            });
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task ReadPolicyAsync(CancellationToken cancellationToken)
    {
        var client = httpClientFactory.CreateClient(HttpClientName);
        var defaults = await GetJsonAsync(client, new Uri(BaseUrl, "policies/crossTenantAccessPolicy/default"), cancellationToken);
        var partners = new List<JsonNode?>();
        Uri? next = new(BaseUrl, "policies/crossTenantAccessPolicy/partners");
        var visited = new HashSet<Uri>();
        while (next is not null)
        {
            // Each request carries the Graph token: only to Graph's own address, and never round in a circle.
            if (!BaseUrl.IsBaseOf(next) || !visited.Add(next))
            {
                throw new InvalidDataException(
                    $"Microsoft Graph's @odata.nextLink '{next}' is {(visited.Contains(next) ? "a page already read" : $"not under {BaseUrl}")}: not followed; the policy in force is unchanged.");
            }

            var page = await GetJsonAsync(client, next, cancellationToken);

            // A page without its partners must not pass for an empty one: their tenants would fall to the default.
            if (page["value"] is not JsonArray values)
            {
                throw new InvalidDataException($"Microsoft Graph's page '{next}' has no 'value' array of partners; the policy in force is unchanged.");
            }

            foreach (var partner in values)
            {
                partners.Add(partner?.DeepClone());
            }

            next = page["@odata.nextLink"] switch
            {
                null => null,
                JsonValue link when link.TryGetValue<string>(out var text) => new Uri(BaseUrl, text),
                _ => throw new InvalidDataException($"Microsoft Graph's page '{next}' has an '@odata.nextLink' that is not a string; the policy in force is unchanged."),
            };
        }

        // In tenant order: Graph does not promise one, and the ETag (so the version, and the last known good file)
        // should change when the policy does, not when the order of its pages does.
        partners.Sort(static (a, b) => StringComparer.OrdinalIgnoreCase.Compare(TenantIdOf(a), TenantIdOf(b)));
        var document = new JsonObject { ["default"] = defaults, ["partners"] = new JsonArray([.. partners]) };
        // Compiled from the bytes, as the file and Redis sources do, and numbered only once it differs.
        var compiled = PolicyCompiler.Compile(Encoding.UTF8.GetBytes(document.ToJsonString()), _resourceTenant, default, out var parseErrors);
        if (compiled is null)
        {
            var errors = parseErrors.Select(e => e.ToString()).ToArray();
            Log.PolicyRejected(logger, Name, errors.Length, string.Join(Environment.NewLine, errors));
            telemetry.PolicyReloaded("invalid");
            throw PolicyRejectedException.For("The policy read from Microsoft Graph", errors);
        }

        var etag = PolicyCompiler.ComputeETag(compiled.DocumentUtf8.Span);
        if (store.Current is { } current && current.ETag == etag)
        {
            GatewayTelemetry.PolicyLoadUnchanged();
            store.Confirm();
            lastKnownGood.Confirmed(current);
        }
        else
        {
            var snapshot = compiled.WithVersion(new PolicyVersion(store.NextVersion(), etag, time.GetUtcNow()));
            store.Swap(snapshot);
            lastKnownGood.Save(snapshot);
            Log.PolicyLoaded(logger, Name, snapshot.Version, snapshot.PartnerCount);
            telemetry.PolicyReloaded("success");
        }
    }

    public Task<PolicyCommitResult> CommitAsync(PolicySnapshot draft, string basisETag, AuditEntry audit, CancellationToken cancellationToken)
        => Task.FromResult(new PolicyCommitResult(PolicyCommitStatus.ReadOnly, Detail: ReadOnlyDetail));

    private async Task<JsonNode> GetJsonAsync(HttpClient client, Uri url, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.TryAddWithoutValidation("Authorization", await tokens.GetAuthorizationHeaderAsync(cancellationToken));
            using var response = await client.SendAsync(request, cancellationToken);
            // Throttled, or briefly unavailable: Graph names the wait in Retry-After (or a short one is taken).
            if (response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout)
            {
                var retryAfter = response.Headers.RetryAfter;
                var asked = retryAfter?.Delta ?? (retryAfter?.Date is { } date ? date - time.GetUtcNow() : null);
                var delay = asked ?? TimeSpan.FromSeconds(attempt);
                delay = delay < TimeSpan.Zero ? TimeSpan.Zero : delay;
                // Whatever ends this pull (giving up here, the pull or start-up timing out mid-wait, another failure),
                // the next background pull waits as long as Graph asked, up to the longer of these two.
                var most = _options.RefreshInterval > _options.MaxRetryAfter ? _options.RefreshInterval : _options.MaxRetryAfter;
                if (asked is not null)
                {
                    _health.AskedToWait(delay, most);
                }

                if (delay > _options.MaxRetryAfter || attempt == 5)
                {
                    throw new HttpRequestException(delay > _options.MaxRetryAfter
                        ? $"Microsoft Graph asked to wait {delay.TotalSeconds:F0} s (Retry-After), longer than {_options.MaxRetryAfter.TotalSeconds:F0} s; the next pull waits as long (at most {most.TotalSeconds:F0} s)."
                        : $"Microsoft Graph answered {(int)response.StatusCode} {response.ReasonPhrase} to GET {url.AbsolutePath} five times.", null, response.StatusCode);
                }

                PolicySourceLog.GraphThrottled(logger, (int)response.StatusCode, url.AbsolutePath, delay.TotalMilliseconds);
                await Task.Delay(delay, time, cancellationToken);
                continue;
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new HttpRequestException($"Microsoft Graph answered {(int)response.StatusCode} {response.ReasonPhrase} to GET {url.AbsolutePath}.", null, response.StatusCode);
            }

            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            return await JsonNode.ParseAsync(body, cancellationToken: cancellationToken)
                ?? throw new InvalidDataException($"Microsoft Graph answered null to GET {url.AbsolutePath}.");
        }
    }

    private static string? TenantIdOf(JsonNode? partner)
        => partner is JsonObject entry && entry["tenantId"] is JsonValue id && id.TryGetValue<string>(out var text) ? text : null;
}

/// <summary>Marker for token failures surfaced by <see cref="GraphTokenProvider"/>.</summary>
internal sealed class MicrosoftIdentityWebFailure(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// The <c>Authorization</c> header for Graph: an app-only token through Microsoft.Identity.Web
/// (<see cref="IAuthorizationHeaderProvider"/>, client credentials from the <c>AzureAd</c> section), or in Development
/// and tests a fixed token from <c>Xtac:Policy:Graph:DevelopmentBearerToken</c>.
/// </summary>
internal sealed class GraphTokenProvider(IOptions<PolicySourceOptions> options, IOptions<GatewayOptions> gatewayOptions, IServiceProvider services)
{
    public async Task<string> GetAuthorizationHeaderAsync(CancellationToken cancellationToken)
    {
        var graph = options.Value.Graph;
        if (!string.IsNullOrEmpty(graph.DevelopmentBearerToken))
        {
            return $"Bearer {graph.DevelopmentBearerToken}";
        }

        try
        {
            var provider = services.GetRequiredService<IAuthorizationHeaderProvider>();
            return await provider.CreateAuthorizationHeaderForAppAsync(graph.Scope,
                new AuthorizationHeaderProviderOptions
                {
                    AcquireTokenOptions = new AcquireTokenOptions
                    {
                        AuthenticationOptionsName = JwtBearerDefaults.AuthenticationScheme,

                        // The API accepts callers of any organisation ('AzureAd:TenantId' is 'organizations'), but an
                        // app-only token can only come from one tenant: the resource tenant, whose policy is read.
                        Tenant = gatewayOptions.Value.ResourceTenantId?.ToString(),
                    },
                },
                cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new MicrosoftIdentityWebFailure($"No app-only token for Microsoft Graph ({graph.Scope}): {ex.Message}", ex);
        }
    }
}
