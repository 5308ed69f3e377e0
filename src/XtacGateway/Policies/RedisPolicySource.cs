using System.Runtime.InteropServices;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using XtacGateway.Admin;
using XtacGateway.Observability;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Model;
using XtacGateway.Policy.Validation;

namespace XtacGateway.Policies;

/// <summary>
/// The policy shared by a fleet through Redis. Documents are stored through <see cref="IDistributedCache"/> under their
/// ETag (content-addressed, so never overwritten); one pointer key <c>{prefix}:current</c> holds "version etag" and is
/// only ever moved by a Lua compare-and-set, which also publishes the new pointer on <c>{prefix}:changes</c>.
/// Every instance keeps its compiled snapshot in memory (requests never wait on Redis), reloads when told over pub/sub
/// or when its periodic check finds another version, keeps serving the last snapshot while Redis is down, and
/// persists that snapshot locally for restarts during an outage.
/// </summary>
internal sealed class RedisPolicySource(
    PolicySnapshotStore store,
    RedisConnection redis,
    IDistributedCache cache,
    LastKnownGoodStore lastKnownGood,
    IOptions<GatewayOptions> gatewayOptions,
    IOptions<PolicySourceOptions> sourceOptions,
    IHostEnvironment environment,
    TimeProvider time,
    GatewayTelemetry telemetry,
    ILogger<RedisPolicySource> logger) : BackgroundService, IPolicySource
{
    // KEYS[1] pointer, KEYS[2] the new document, KEYS[3] the audit stream; ARGV[1] expected etag ('' = empty store),
    // ARGV[2] new etag, ARGV[3] channel, ARGV[4] version floor, ARGV[5] and ARGV[6] the audit entry's JSON before and
    // after its version ('' = no entry), ARGV[7] the stream's approximate length cap, ARGV[8] the entry's field. {0, version}: another etag is in
    // force (-1: the pointer is malformed); {2, version}: the new document is gone (another instance deleted it as
    // replaced before this pointer move): store it again. The entry is added before anything else is written: a script
    // that fails part way is not rolled back, so a refused XADD (WRONGTYPE, out of memory) must leave nothing changed.
    private const string CompareAndSetScript = """
        local cur = redis.call('GET', KEYS[1])
        local version = 0
        local etag = ''
        if cur then
          local space = string.find(cur, ' ', 1, true)
          version = space and tonumber(string.sub(cur, 1, space - 1))
          if not version then
            return {0, -1}
          end
          etag = string.sub(cur, space + 1)
        end
        if etag ~= ARGV[1] then
          return {0, version}
        end
        if redis.call('EXISTS', KEYS[2]) == 0 then
          return {2, version}
        end
        local floor = tonumber(ARGV[4])
        if floor > version then version = floor end
        version = version + 1
        local change = ''
        if ARGV[5] ~= '' then
          local entry = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], '*', ARGV[8], ARGV[5] .. version .. ARGV[6])
          if ARGV[9] == '1' then
            change = entry
            redis.call('SET', KEYS[4], entry)
          end
        end
        local value = version .. ' ' .. ARGV[2]
        redis.call('SET', KEYS[1], value)
        redis.call('PUBLISH', ARGV[3], value)
        return {1, version, change}
        """;

    // KEYS[1] pointer, KEYS[2] the last admin change's entry ID, KEYS[3] the document of the policy in force here.
    // {0, change} for an empty store, else {1, change, whether KEYS[3] exists, pointer}, read together: the change tells
    // a store that went back in time from one an admin wrote to since (see SyncAsync). A change key of another type
    // counts as none.
    private const string ReadPointerScript = """
        local change = redis.pcall('GET', KEYS[2])
        if type(change) ~= 'string' then
          change = ''
        end
        local cur = redis.call('GET', KEYS[1])
        if not cur then
          return {0, change}
        end
        return {1, change, redis.call('EXISTS', KEYS[3]), cur}
        """;

    // KEYS[1] pointer, KEYS[2] a replaced document; ARGV[1] its etag. Deleted only if the pointer does not name it
    // (again): another instance may have committed the same content since.
    private const string DeleteReplacedScript = """
        local cur = redis.call('GET', KEYS[1])
        if cur then
          local space = string.find(cur, ' ', 1, true)
          if space and string.sub(cur, space + 1) == ARGV[1] then
            return 0
          end
        end
        return redis.call('DEL', KEYS[2])
        """;

    private readonly SemaphoreSlim _wake = new(0);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly RedisPolicySourceOptions _options = sourceOptions.Value.Redis;
    private readonly Guid _resourceTenant = gatewayOptions.Value.ResourceTenantId!.Value;
    private readonly SourceHealth _health = new("redis", sourceOptions.Value.Redis.CheckInterval, store, sourceOptions.Value, telemetry, time, logger);
    private bool _subscribed;

    /// <summary>
    /// The newest audit entry in Redis when this instance last took or confirmed its policy there: nothing written to
    /// the store since then has an entry after it. Unknown (null) until then, and after a start from the last known good.
    /// </summary>
    private AuditStreamId? _auditMark;

    private static readonly AuditStreamId NoChangeRecorded = new(0, 0);

    /// <summary>Documents no pointer named at the last sweep: deleted if still unnamed at the next.</summary>
    private HashSet<string> _unnamedDocuments = [];
    private DateTimeOffset _nextSweep;

    public string Name => "redis";

    public string? ReadOnlyReason => null;

    private string CurrentKey => $"{_options.KeyPrefix}:current";

    private RedisChannel Channel => RedisChannel.Literal($"{_options.KeyPrefix}:changes");

    private string DocumentKey(string etag) => $"{_options.KeyPrefix}:doc:{etag.Trim('"')}";

    /// <summary>The stream entry ID of the last admin change (not the gateway's own seeds and write-backs).</summary>
    private string LastChangeKey => $"{_options.KeyPrefix}:lastchange";

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var giveUpAt = time.GetUtcNow() + _options.StartupWait;
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await SubscribeAsync();
                    await SyncAsync(cancellationToken);
                    break;
                }
                catch (Exception ex) when (RedisConnection.IsUnreachable(ex) && time.GetUtcNow() + sourceOptions.Value.RetryMinDelay < giveUpAt)
                {
                    // Once: the listeners stay closed while this waits, and an operator should see why.
                    if (attempt == 1)
                    {
                        PolicySourceLog.WaitingAtStartup(logger, Name, (giveUpAt - time.GetUtcNow()).TotalMilliseconds, ex.Message);
                    }

                    await Task.Delay(sourceOptions.Value.RetryMinDelay, time, cancellationToken);
                }
            }
        }
        catch (Exception ex) when (RedisConnection.IsUnreachable(ex) || ex is InvalidDataException or PolicyRejectedException or RedisServerException)
        {
            // Unreachable, or holding something this instance cannot use (a malformed pointer, a WRONGTYPE key): start
            // from the last known good policy, as in an outage, and keep trying.
            _health.FailedAtStart(lastKnownGood, _resourceTenant, ex);
            // Where Redis stood when that policy was saved: without it, a Redis that comes back older is always written
            // back over, even over an admin's change made there since.
            _auditMark = AuditStreamId.Parse(lastKnownGood.RestoredSourceMark);
        }

        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _wake.WaitAsync(_health.NextDelay(), stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var synced = false;
            try
            {
                await SubscribeAsync();
                await SyncAsync(stoppingToken);
                _health.Succeeded();
                synced = true;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // Whatever went wrong (Redis down, a malformed pointer or document, a WRONGTYPE key), this instance keeps
                // the policy in force and tries again; it must never stop the host.
                _health.Failed(ex);
            }

            if (synced && time.GetUtcNow() >= _nextSweep)
            {
                _nextSweep = time.GetUtcNow() + _options.DocumentSweepInterval;
                try
                {
                    await SweepUnnamedDocumentsAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // Housekeeping: a SCAN refused (an ACL, a proxy) or slow is no failure of the policy source.
                    PolicySourceLog.SweepFailed(logger, ex.Message);
                }
            }
        }
    }

    public Task ReloadAsync(CancellationToken cancellationToken) => _health.ReportAsync(SyncAsync(cancellationToken), cancellationToken);

    public async Task<PolicyCommitResult> CommitAsync(PolicySnapshot draft, string basisETag, AuditEntry audit, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var result = await CompareAndSetAsync(draft, basisETag, store.Current?.Version ?? 0, audit, adminChange: true);
            if (result.Status == PolicyCommitStatus.Committed && !string.IsNullOrEmpty(basisETag) && basisETag != result.Snapshot!.ETag)
            {
                await RemoveReplacedDocumentAsync(basisETag);
            }

            return result;
        }
        catch (Exception ex) when (RedisConnection.IsUnreachable(ex))
        {
            store.ReportSource(PolicySourceState.Degraded, ex.Message);
            _wake.Release();
            return new PolicyCommitResult(PolicyCommitStatus.Unavailable, Detail: $"Redis cannot be reached: {ex.Message}");
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Nobody points at the old document any more; an instance that was about to read it re-reads the pointer. Best
    /// effort and not cancellable: the change is already in force, so a failure here must not be reported as its failure.
    /// True when it was deleted (not named again meanwhile, and there).
    /// </summary>
    private async Task<bool> RemoveReplacedDocumentAsync(string etag)
    {
        try
        {
            var db = await redis.DatabaseAsync();
            return (long)await db.ScriptEvaluateAsync(DeleteReplacedScript, [CurrentKey, DocumentKey(etag)], [etag]) > 0;
        }
        catch (Exception ex)
        {
            PolicySourceLog.ReplacedDocumentNotRemoved(logger, DocumentKey(etag), ex.Message);
            return false;
        }
    }

    /// <summary>
    /// Deletes the documents no pointer names, seen so at two sweeps in a row: a change whose answer never came (a
    /// timeout, a dropped connection) or a crash between storing a document and naming it leaves one behind, tens of MB
    /// with 100,000 partners, and nothing else ever removes it. Two sightings, a sweep interval apart, spare a document
    /// stored for a change still in flight; should one be deleted all the same, that change stores it again (the
    /// compare-and-set finds it missing). Every instance sweeps; the deletes are the same atomic check-and-delete.
    /// </summary>
    private async Task SweepUnnamedDocumentsAsync(CancellationToken cancellationToken)
    {
        var multiplexer = await redis.GetAsync();
        var db = await redis.DatabaseAsync();
        // A malformed pointer stops the sweep (logged): nothing is deleted while it is unknown what is named.
        var named = (string?)await db.StringGetAsync(CurrentKey) is { } pointer ? DocumentKey(ParsePointer(pointer).ETag) : null;
        var unnamed = new HashSet<string>(StringComparer.Ordinal);
        var documentPrefix = $"{_options.KeyPrefix}:doc:";
        var pattern = $"{EscapeGlob(_options.KeyPrefix)}:doc:*";
        foreach (var server in multiplexer.GetServers().Where(s => s.IsConnected && !s.IsReplica))
        {
            await foreach (var key in server.KeysAsync(db.Database, pattern, pageSize: 1000).WithCancellation(cancellationToken))
            {
                // Only names this gateway gives documents (an ETag: 24 hex digits), whatever else matches the pattern.
                var name = key.ToString();
                if (name != named && IsDocumentName(name.AsSpan(documentPrefix.Length)))
                {
                    unnamed.Add(name);
                }
            }
        }

        foreach (var key in unnamed.Where(_unnamedDocuments.Contains))
        {
            // Kept if the pointer has come to name it since, as a replaced document is.
            if (await RemoveReplacedDocumentAsync($"\"{key[documentPrefix.Length..]}\""))
            {
                PolicySourceLog.UnnamedDocumentDeleted(logger, key);
            }
        }

        _unnamedDocuments = unnamed;
    }

    private static bool IsDocumentName(ReadOnlySpan<char> etag) => etag.Length == 24 && !etag.ContainsAnyExcept("0123456789abcdef");

    /// <summary>The prefix as a literal in a SCAN pattern: a hash tag's braces are plain, but *, ?, [ and \ are not.</summary>
    private static string EscapeGlob(string text)
    {
        var escaped = new System.Text.StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (c is '*' or '?' or '[' or ']' or '\\')
            {
                escaped.Append('\\');
            }

            escaped.Append(c);
        }

        return escaped.ToString();
    }

    /// <summary>
    /// Stores <paramref name="draft"/>'s document and moves the pointer to it, adding <paramref name="audit"/> (if any) to
    /// the audit stream in the same step; the draft's own version is replaced.
    /// </summary>
    private async Task<PolicyCommitResult> CompareAndSetAsync(PolicySnapshot draft, string basisETag, long floor, AuditEntry? audit = null, bool adminChange = false)
    {
        var etag = PolicyCompiler.ComputeETag(draft.DocumentUtf8.Span);
        var (auditHead, auditTail) = audit is null ? ("", "") : RedisAuditLog.CutAtVersion(audit with { PolicyETag = etag });
        var db = await redis.DatabaseAsync();
        RedisKey[] keys = [CurrentKey, DocumentKey(etag), RedisAuditLog.KeyFor(_options.KeyPrefix), LastChangeKey];
        RedisValue[] arguments = [basisETag, etag, Channel.ToString(), floor, auditHead, auditTail, _options.AuditMaxEntries, RedisAuditLog.Field, adminChange ? "1" : "0"];
        RedisResult[] result;
        var attempts = 0;
        do
        {
            await cache.SetAsync(DocumentKey(etag), AsArray(draft.DocumentUtf8), new DistributedCacheEntryOptions());
            try
            {
                result = (RedisResult[])(await db.ScriptEvaluateAsync(CompareAndSetScript, keys, arguments))!;
            }
            catch (RedisServerException)
            {
                // Redis refused a command of the script (WRONGTYPE under the pointer's or the stream's name): nothing
                // was changed, and the document just stored is nobody's.
                await RemoveReplacedDocumentAsync(etag);
                throw;
            }
            catch (Exception ex) when (ex is RedisTimeoutException or RedisConnectionException)
            {
                // The script may have been sent: a timeout, or a connection that dropped with it in flight (a connection
                // that was already down fails the same way, and is answered alike: the read below tells). Redis may
                // have run it, so neither "nothing changed" nor "done" is true, and the document stays (the pointer may
                // come to name it). Every instance hears of the change if it lands; this one also looks again at once,
                // so that the read the answer asks for finds it.
                _wake.Release();
                return new PolicyCommitResult(PolicyCommitStatus.Unavailable,
                    Detail: $"Redis did not answer the change, and may have applied it: read the policy before retrying. {ex.Message}");
            }
        }
        while ((long)result[0] == 2 && ++attempts < 3);

        if ((long)result[0] != 1)
        {
            // The document this change stored is nobody's: without this, every lost race would leave a whole policy
            // (tens of MB for 100,000 partners) in Redis for good. Kept if the pointer names it after all (another
            // instance committed the very same document).
            await RemoveReplacedDocumentAsync(etag);
            return (long)result[0] == 2 || (long)result[1] < 0
                ? new PolicyCommitResult(PolicyCommitStatus.Unavailable, Detail: (long)result[1] < 0
                    ? $"The Redis key '{CurrentKey}' does not hold '<version> <etag>'; nothing changed."
                    : "The new policy document kept disappearing from Redis before the pointer could name it; nothing changed.")
                : new PolicyCommitResult(PolicyCommitStatus.Conflict, Detail: $"The shared policy is at version {(long)result[1]}, not the one this change was based on.");
        }

        var snapshot = draft.WithVersion(new PolicyVersion((long)result[1], etag, time.GetUtcNow()));
        // An admin change is the newest one now; the gateway's own seeds and write-backs leave the mark as it was (an
        // empty result is "not an admin change", not "none recorded").
        if (AuditStreamId.Parse((string?)result[2]) is { } change)
        {
            AdvanceMark(change);
        }

        Apply(snapshot);
        return new PolicyCommitResult(PolicyCommitStatus.Committed, snapshot, AuditRecorded: audit is not null);
    }

    /// <summary>
    /// The gateway's own change, audited like an admin's: the stored policy moves to a new version no admin call made,
    /// and the entries of the changes it puts back may have been lost with Redis's data.
    /// </summary>
    private AuditEntry WriteBackAudit(long redisVersion, long inForceVersion) => new()
    {
        Id = Guid.NewGuid().ToString(),
        ActivityDateTime = time.GetUtcNow(),
        ActivityDisplayName = "Restore the cross-tenant access setting lost by the policy store",
        InitiatedBy = new AuditActor(ObjectId: null, TenantId: _resourceTenant.ToString(), AppId: null, Roles: []),
        ModifiedProperties = [new AuditModifiedProperty("policyVersion", redisVersion, inForceVersion)],
    };

    /// <summary>The bytes as an array, without a copy when the memory is a whole array (as a snapshot's document is).</summary>
    private static byte[] AsArray(ReadOnlyMemory<byte> bytes)
        => MemoryMarshal.TryGetArray(bytes, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : bytes.ToArray();

    private async Task SubscribeAsync()
    {
        if (_subscribed)
        {
            return;
        }

        var multiplexer = await redis.GetAsync();
        EnsureKeysShareASlot(multiplexer);
        await multiplexer.GetSubscriber().SubscribeAsync(Channel, (_, _) =>
        {
            if (_wake.CurrentCount == 0)
            {
                _wake.Release();
            }
        });

        // The multiplexer re-subscribes by itself after a reconnect.
        _subscribed = true;
    }

    /// <summary>
    /// A Redis Cluster runs a script only on keys of one hash slot. The pointer, the documents and the audit stream all
    /// start with the prefix, so they share one when the prefix holds a hash tag (<c>{xtac:policy}</c>); without one,
    /// every change would fail with CROSSSLOT. Refused here, by name, instead: at start-up the gateway does not start.
    /// </summary>
    private void EnsureKeysShareASlot(IConnectionMultiplexer multiplexer)
    {
        if (HasHashTag(_options.KeyPrefix) || !multiplexer.GetServers().Any(s => s.IsConnected && s.ServerType == ServerType.Cluster))
        {
            return;
        }

        throw new InvalidOperationException(
            $"Redis at {string.Join(", ", multiplexer.GetEndPoints().Select(e => e.ToString()))} is a Redis Cluster, and '{PolicySourceOptions.Section}:Redis:KeyPrefix' " +
            $"'{_options.KeyPrefix}' has no hash tag: the policy's keys would fall in different hash slots, which its compare-and-set script cannot span. " +
            $"Set it to '{{{_options.KeyPrefix}}}' (a new prefix is a new, empty store, seeded as any empty one is).");
    }

    /// <summary>Whether Redis hashes only a part of every key with this prefix: a non-empty <c>{...}</c>, the first <c>{</c> to the next <c>}</c>.</summary>
    internal static bool HasHashTag(string prefix)
    {
        var open = prefix.IndexOf('{', StringComparison.Ordinal);
        return open >= 0 && prefix.IndexOf('}', open + 1) is var close && close > open + 1;
    }

    /// <summary>Brings the snapshot in force up to Redis's pointer, seeding an empty store first.</summary>
    private async Task SyncAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var db = await redis.DatabaseAsync();
            string? missingDocument = null;
            for (var attempt = 0; attempt < 3; attempt++)
            {
                var held = store.Current;
                var read = (RedisResult[])(await db.ScriptEvaluateAsync(ReadPointerScript, [CurrentKey, LastChangeKey, DocumentKey(held?.ETag ?? "none")]))!;
                var lastChange = AuditStreamId.Parse((string?)read[1]);
                if ((long)read[0] == 0)
                {
                    if (SeedDocument() is not { } seed)
                    {
                        return;
                    }

                    // Where Redis stands is known now (an emptied store: none recorded, unless that key survived).
                    AdvanceMark(lastChange);

                    // The policy in force or the last known good one puts back what Redis lost: audited as the write-back
                    // below is. The seed file on a first start restores nothing.
                    var seeded = await CompareAndSetAsync(seed.Draft, string.Empty, seed.Draft.Version,
                        seed.Restores ? WriteBackAudit(0, seed.Draft.Version) : null);
                    if (seeded.Status == PolicyCommitStatus.Committed)
                    {
                        PolicySourceLog.Seeded(logger, seeded.Snapshot!.Version, seed.Origin);
                        return;
                    }

                    continue;
                }

                var pointer = (string)read[3]!;
                var (version, etag) = ParsePointer(pointer);
                if (held is not null && held.Version == version && held.ETag == etag)
                {
                    if ((long)read[2] == 0)
                    {
                        await StoreDocumentAgainAsync(held);
                    }

                    store.Confirm();
                    AdvanceMark(lastChange);
                    lastKnownGood.Confirmed(held, _auditMark?.ToString());
                    return;
                }

                // Redis holds another policy at the same number or an older one: it went back in time (a failover to a
                // stale replica, a restore from a backup, an instance with an old last known good policy reseeding it).
                if (held is not null && version <= held.Version)
                {
                    // Whether an admin changed the store since this instance last saw it. Unknown (no mark yet: the first
                    // check after a start from a last known good file an older gateway saved), a lower version is written
                    // back and the same number taken, as before marks existed.
                    var writtenSince = _auditMark is { } mark ? lastChange is { } newest && newest > mark : version == held.Version;
                    if (!writtenSince)
                    {
                        // Where Redis stands is known now, and what the write-back saves with the policy.
                        AdvanceMark(lastChange);
                        // Nothing was changed there since, only lost (or written back by an instance that lagged): the
                        // policy in force holds changes that were acknowledged, so it is put back rather than reverted.
                        var reasserted = await CompareAndSetAsync(held, etag, held.Version, WriteBackAudit(version, held.Version));
                        if (reasserted.Status == PolicyCommitStatus.Committed)
                        {
                            PolicySourceLog.Reasserted(logger, version, held.Version, reasserted.Snapshot!.Version);
                            return;
                        }

                        continue;
                    }

                    // An admin changed what was left (on an instance started after the loss): putting the policy in force
                    // back would undo that change. Redis's policy is taken, as every instance that knows where the store
                    // stood takes it, and the lost one is kept on disk for its changes to be made again. Kept before the
                    // take: taking replaces the last known good file too, and a crash in between would leave no copy. A
                    // take that then fails leaves the copy of a policy still in force, written again at the next try.
                    var kept = lastKnownGood.KeepLost(held);
                    if (await GatewayTelemetry.InPolicyLoadAsync(Name, () => LoadDocumentAsync(version, etag, lastChange, cancellationToken)))
                    {
                        if (version == held.Version)
                        {
                            PolicySourceLog.Diverged(logger, version, etag, held.ETag, kept);
                        }
                        else
                        {
                            PolicySourceLog.WrittenAfterLoss(logger, version, etag, held.Version, held.ETag, kept);
                        }

                        return;
                    }
                }
                else
                {
                    // A span only for a new document: the check every few seconds that finds the pointer unchanged is
                    // not a load.
                    if (await GatewayTelemetry.InPolicyLoadAsync(Name, () => LoadDocumentAsync(version, etag, lastChange, cancellationToken)))
                    {
                        return;
                    }
                }

                // Gone: replaced meanwhile (the pointer has moved on), or lost while the pointer still names it.
                if (missingDocument == pointer)
                {
                    throw new InvalidDataException(
                        $"The Redis key '{CurrentKey}' names policy version {version}, whose document '{DocumentKey(etag)}' does not exist (evicted under " +
                        "a maxmemory policy, or deleted by hand); the policy in force is unchanged. An instance that holds that version stores it again.");
                }

                missingDocument = pointer;
            }

            throw new InvalidDataException("The Redis policy pointer kept moving while it was read.");
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Puts the document the pointer names in force; false when it was replaced meanwhile (read the pointer again).</summary>
    private async Task<bool> LoadDocumentAsync(long version, string etag, AuditStreamId? lastChange, CancellationToken cancellationToken)
    {
        if (await cache.GetAsync(DocumentKey(etag), cancellationToken) is not { } bytes)
        {
            return false;
        }

        var compiled = PolicyCompiler.Compile(bytes, _resourceTenant, new PolicyVersion(version, etag, time.GetUtcNow()), out var parseErrors);
        if (compiled is null)
        {
            var errors = parseErrors.Select(e => e.ToString()).ToArray();
            Log.PolicyRejected(logger, $"redis version {version}", errors.Length, string.Join(Environment.NewLine, errors));
            telemetry.PolicyReloaded("invalid");
            throw PolicyRejectedException.For($"The policy version {version} in Redis", errors);
        }

        AdvanceMark(lastChange);
        Apply(compiled);
        return true;
    }

    /// <summary>
    /// Moves the mark to <paramref name="lastChange"/> if that is newer. Never back: after a write-back (this instance's
    /// or another's) Redis's last change is still the one from before the loss, older than what this instance saw.
    /// </summary>
    private void AdvanceMark(AuditStreamId? lastChange)
    {
        // Read from Redis, "none recorded" is known too: the lowest ID, so that any admin change after it counts.
        var change = lastChange ?? NoChangeRecorded;
        if (_auditMark is not { } known || change > known)
        {
            _auditMark = change;
        }
    }

    /// <summary>
    /// Stores the document of the policy in force again: Redis lost it (an eviction, a hand-made delete), and no instance
    /// that starts could load the policy the pointer names. Best effort: the policy in force is confirmed either way,
    /// and the next check tries again.
    /// </summary>
    private async Task StoreDocumentAgainAsync(PolicySnapshot current)
    {
        try
        {
            await cache.SetAsync(DocumentKey(current.ETag), AsArray(current.DocumentUtf8), new DistributedCacheEntryOptions());
            PolicySourceLog.DocumentStoredAgain(logger, DocumentKey(current.ETag), current.Version);
        }
        catch (Exception ex) when (RedisConnection.IsUnreachable(ex) || ex is RedisServerException)
        {
            PolicySourceLog.DocumentNotStoredAgain(logger, DocumentKey(current.ETag), current.Version, ex.Message);
        }
    }

    /// <summary>The pointer's "version etag", or an <see cref="InvalidDataException"/> naming the key and what it holds.</summary>
    private (long Version, string ETag) ParsePointer(string text)
    {
        var space = text.IndexOf(' ', StringComparison.Ordinal);
        if (space > 0 && space < text.Length - 1
            && long.TryParse(text.AsSpan(0, space), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var version))
        {
            return (version, text[(space + 1)..]);
        }

        var shown = text.Length > 80 ? $"{text[..80]}..." : text;
        throw new InvalidDataException($"The Redis key '{CurrentKey}' holds '{shown}', not '<version> <etag>'; the policy in force is unchanged.");
    }

    private void Apply(PolicySnapshot snapshot)
    {
        store.Swap(snapshot);
        lastKnownGood.Save(snapshot, _auditMark?.ToString());
        Log.PolicyLoaded(logger, Name, snapshot.Version, snapshot.PartnerCount);
        telemetry.PolicyReloaded("success");
    }

    /// <summary>
    /// What an empty Redis is seeded with, as a compiled draft whose version the new one follows: the policy in force
    /// (Redis lost its data), else the last known good policy (Redis lost it while no instance ran: a restart of
    /// everything without persistence, where the seed file would undo every change made since), else
    /// <c>Xtac:Policy:Path</c>.
    /// </summary>
    private (PolicySnapshot Draft, string Origin, bool Restores)? SeedDocument()
    {
        if (store.Current is { } current)
        {
            return (current, $"the policy in force (version {current.Version})", true);
        }

        if (lastKnownGood.TryLoad(_resourceTenant) is { } saved)
        {
            return (saved, $"the last known good policy (version {saved.Version}) in {lastKnownGood.Path}", true);
        }

        if (string.IsNullOrWhiteSpace(gatewayOptions.Value.Policy.Path))
        {
            return null;
        }

        var path = FilePolicySource.ResolvePath(gatewayOptions.Value.Policy.Path, environment.ContentRootPath);
        var draft = PolicyCompiler.Compile(File.ReadAllBytes(path), _resourceTenant, default, out var errors);
        if (draft is null)
        {
            throw new InvalidOperationException(
                $"The seed policy file '{path}' is invalid; the gateway will not start.{Environment.NewLine}{string.Join(Environment.NewLine, errors)}");
        }

        return (draft, path, false);
    }
}
