using System.Text.Json;
using Microsoft.Extensions.Options;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Validation;

namespace XtacGateway.Policies;

/// <summary>
/// The last policy a shared source (Redis, Graph) delivered, kept on local disk with its version and ETag, so that an
/// instance restarted while its source is down still starts with a policy rather than failing closed.
/// The file's last-write time is when the source last confirmed that policy, so a restored policy is as old as it
/// really is: readiness (<c>Xtac:Policy:MaxAge</c>) counts from then, not from the restart.
/// </summary>
internal sealed class LastKnownGoodStore(
    IOptions<PolicySourceOptions> options,
    IOptions<GatewayOptions> gatewayOptions,
    IConfiguration configuration,
    IHostEnvironment environment,
    TimeProvider time,
    ILogger<LastKnownGoodStore> logger)
{
    private readonly Lock _gate = new();
    private readonly string _origin = options.Value.OriginIn(configuration);

    /// <summary>
    /// What this process last wrote or restored: the policy's ETag and the file's length and last-write time after
    /// that. A file that no longer matches was written by someone else (another instance on the same path).
    /// </summary>
    private (string ETag, long Length, DateTime Written)? _saved;

    /// <summary>What the source said of where its store stood with the policy last saved (saved again with it).</summary>
    private string? _sourceMark;

    /// <summary>The last save failed: the next confirmation saves again, and the failure was logged once.</summary>
    private bool _saveFailed;

    public string Path { get; } = options.Value.ResolveLastKnownGoodPath(environment.ContentRootPath, gatewayOptions.Value.ResourceTenantId, options.Value.OriginIn(configuration));

    /// <summary>
    /// The source's mark saved with the policy that <see cref="RestoreIfEmpty"/> put in force at start-up; null when it
    /// restored none, or the file has none.
    /// </summary>
    public string? RestoredSourceMark { get; private set; }

    /// <summary>
    /// Writes the snapshot's document atomically (temp file, then rename), with <paramref name="sourceMark"/>: what the
    /// source says of where its store stood (Redis: its last admin change), restored with the policy. Failures are
    /// logged, never thrown.
    /// </summary>
    public void Save(PolicySnapshot snapshot, string? sourceMark = null)
    {
        lock (_gate)
        {
            _sourceMark = sourceMark;
            try
            {
                Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
                AtomicFile.Replace(Path, stream =>
                {
                    using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
                    writer.WriteStartObject();
                    writer.WriteString("origin", _origin);
                    writer.WriteString("resourceTenantId", snapshot.ResourceTenantId);
                    writer.WriteNumber("version", snapshot.Version);
                    writer.WriteString("etag", snapshot.ETag);
                    writer.WriteString("loadedAt", snapshot.LoadedAt);
                    if (sourceMark is not null)
                    {
                        writer.WriteString("sourceMark", sourceMark);
                    }

                    writer.WritePropertyName("document");

                    // The compact bytes as they are: a swap never materializes the typed model.
                    writer.WriteRawValue(snapshot.DocumentUtf8.Span);
                    writer.WriteEndObject();
                });
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _saved = null;
                if (!_saveFailed)
                {
                    PolicySourceLog.LastKnownGoodNotWritten(logger, Path, ex.Message);
                }

                _saveFailed = true;
                return;
            }

            _saveFailed = false;
            Touch(snapshot.ETag);
        }
    }

    /// <summary>
    /// Keeps the document of a policy the shared store lost and will not get back (another change was made on the store
    /// after it went back in time), next to the last known good file, so an admin can make its changes again. Returns
    /// where it went, or why it could not be kept; never throws.
    /// </summary>
    public string KeepLost(PolicySnapshot lost)
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(Path)!, $"lost-policy-v{lost.Version}-{lost.ETag.Trim('"')}.json");
        if (File.Exists(path))
        {
            // Kept already (a take that failed and is tried again): the name is the document's ETag, so it holds these bytes.
            return path;
        }

        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
            AtomicFile.Replace(path, stream => stream.Write(lost.DocumentUtf8.Span));
            return path;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"not kept: {path} could not be written ({ex.Message})";
        }
    }

    /// <summary>
    /// The source confirmed <paramref name="current"/> is still its newest: when the file holds it, the file's last-write
    /// time moves to now; when its save failed (a full disk), it is saved again, or a restart in an outage would restore
    /// whatever older policy the file still holds.
    /// </summary>
    public void Confirmed(PolicySnapshot current, string? sourceMark = null)
    {
        lock (_gate)
        {
            sourceMark ??= _sourceMark;
            if (_saveFailed)
            {
                Save(current, sourceMark);
                return;
            }

            if (_saved is not { } saved || saved.ETag != current.ETag)
            {
                return;
            }

            if (sourceMark != _sourceMark)
            {
                // The source's mark moved on with the same policy (Redis: the first check after an upgrade finds no
                // admin change recorded): saved, or a restart in an outage would restore the older mark.
                Save(current, sourceMark);
                return;
            }

            var file = new FileInfo(Path);
            if (!file.Exists)
            {
                // Deleted under us: the policy in force is saved again rather than lost until the next change.
                Save(current, _sourceMark);
            }
            else if (file.Length == saved.Length && file.LastWriteTimeUtc == saved.Written)
            {
                Touch(saved.ETag);
            }

            // Otherwise another process wrote it since: its time is that process's to move.
        }
    }

    /// <summary>Moves the file's last-write time to now, then remembers it as holding <paramref name="etag"/>.</summary>
    private void Touch(string etag)
    {
        try
        {
            File.SetLastWriteTimeUtc(Path, time.GetUtcNow().UtcDateTime);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not logged: it runs on every check. The file keeps an older time, so it only looks staler than it is.
        }

        Remember(etag);
    }

    /// <summary>Notes the file as this process leaves it (length and time), holding <paramref name="etag"/>.</summary>
    private void Remember(string etag)
    {
        var file = new FileInfo(Path);
        _saved = file.Exists ? (etag, file.Length, file.LastWriteTimeUtc) : null;
    }

    /// <summary>
    /// At start-up with the source unreachable: puts the saved snapshot in force unless a policy already is, and logs
    /// what happened. With neither, the gateway stays without a policy and fails closed.
    /// </summary>
    public void RestoreIfEmpty(PolicySnapshotStore store, Guid resourceTenant, string sourceName)
    {
        if (store.Current is not null)
        {
            return;
        }

        if (TryLoad(resourceTenant, out var confirmedAt, out var sourceMark) is { } saved)
        {
            RestoredSourceMark = sourceMark;
            _sourceMark = sourceMark;
            // Across a restart only the wall clock can say how long ago that was.
            store.Swap(saved, confirmedAgo: time.GetUtcNow() - confirmedAt);
            lock (_gate)
            {
                Remember(saved.ETag);
            }
            PolicySourceLog.StartedFromLastKnownGood(logger, sourceName, saved.Version, Path);
        }
        else
        {
            PolicySourceLog.StartedWithoutPolicy(logger, sourceName, Path);
        }
    }

    /// <summary>The saved snapshot, or null when there is none or it is unreadable or invalid.</summary>
    public PolicySnapshot? TryLoad(Guid resourceTenant) => TryLoad(resourceTenant, out _, out _);

    /// <summary>
    /// The saved snapshot and the file's last-write time (when the source last confirmed it), both read from one open
    /// file: another instance replacing the file in between must not date this policy with the newer file's time.
    /// </summary>
    private PolicySnapshot? TryLoad(Guid resourceTenant, out DateTimeOffset confirmedAt, out string? sourceMark)
    {
        confirmedAt = default;
        sourceMark = null;
        if (!File.Exists(Path))
        {
            return null;
        }

        try
        {
            byte[] bytes;
            using (var file = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            {
                confirmedAt = new DateTimeOffset(File.GetLastWriteTimeUtc(file.SafeFileHandle), TimeSpan.Zero);
                bytes = new byte[file.Length];
                file.ReadExactly(bytes);
            }

            var (origin, savedTenant, version, etag, loadedAt, mark, document) = ReadEnvelope(bytes);
            if ((origin is not null && origin != _origin) || (savedTenant is not null && savedTenant != resourceTenant))
            {
                PolicySourceLog.LastKnownGoodUnreadable(logger, Path,
                    $"it holds the policy of '{origin}' for resource tenant {savedTenant}, not of '{_origin}' for {resourceTenant}");
                return null;
            }

            var snapshot = PolicyCompiler.Compile(bytes.AsMemory(document), resourceTenant, new PolicyVersion(version, etag, loadedAt), out var errors);
            if (snapshot is null)
            {
                PolicySourceLog.LastKnownGoodUnreadable(logger, Path, string.Join("; ", errors));
                return null;
            }

            // The ETag is what the source compares with its own to skip a reload: a document edited or damaged under
            // its old ETag would otherwise stay in force once the source is back, for as long as the source's policy
            // keeps that ETag.
            if (PolicyCompiler.ComputeETag(snapshot.DocumentUtf8.Span) != etag)
            {
                PolicySourceLog.LastKnownGoodUnreadable(logger, Path, $"its document does not match its ETag {etag} (edited or damaged)");
                return null;
            }

            sourceMark = mark;
            return snapshot;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            PolicySourceLog.LastKnownGoodUnreadable(logger, Path, ex.Message);
            return null;
        }
    }

    /// <summary>
    /// Reads the saved version, ETag and time, and finds where the document lies, with one reader pass: no DOM of
    /// the file and no copy of the document.
    /// </summary>
    private static (string? Origin, Guid? ResourceTenant, long Version, string ETag, DateTimeOffset LoadedAt, string? SourceMark, Range Document) ReadEnvelope(ReadOnlySpan<byte> json)
    {
        string? origin = null;
        string? sourceMark = null;
        Guid? resourceTenant = null;
        long? version = null;
        string? etag = null;
        DateTimeOffset? loadedAt = null;
        Range? document = null;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = PolicyParser.CarrierMaxDepth });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new InvalidOperationException("The last-known-good file is not a JSON object.");
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString();
            reader.Read();
            switch (name)
            {
                case "origin":
                    origin = reader.GetString();
                    break;
                case "resourceTenantId":
                    resourceTenant = reader.GetGuid();
                    break;
                case "version":
                    version = reader.GetInt64();
                    break;
                case "etag":
                    etag = reader.GetString();
                    break;
                case "loadedAt":
                    loadedAt = reader.GetDateTimeOffset();
                    break;
                case "sourceMark":
                    sourceMark = reader.GetString();
                    break;
                case "document":
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    document = start..(int)reader.BytesConsumed;
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return (
            origin,
            resourceTenant,
            version ?? throw new KeyNotFoundException("The last-known-good file has no 'version'."),
            etag ?? throw new KeyNotFoundException("The last-known-good file has no 'etag'."),
            loadedAt ?? throw new KeyNotFoundException("The last-known-good file has no 'loadedAt'."),
            sourceMark,
            document ?? throw new KeyNotFoundException("The last-known-good file has no 'document'."));
    }
}
