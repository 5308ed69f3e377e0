using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using XtacGateway.Admin;
using XtacGateway.Observability;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Model;
using XtacGateway.Policy.Validation;

namespace XtacGateway.Policies;

/// <summary>
/// Loads the policy file at start-up (an invalid file stops start-up) and watches it: a valid change is
/// swapped in, an invalid one is logged with all its errors while the previous policy stays in force.
/// The file is polled rather than watched with inotify, so editors that replace files by rename are seen too.
/// While the file holds something other than the policy in force (an invalid edit, or no readable file), the
/// source reports itself degraded and stops confirming the policy, so readiness shows it and ages it out.
/// </summary>
internal sealed partial class FilePolicySource(
    PolicySnapshotStore store,
    IOptions<GatewayOptions> options,
    IHostEnvironment environment,
    TimeProvider time,
    GatewayTelemetry telemetry,
    ILogger<FilePolicySource> logger) : BackgroundService, IPolicySource
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>The hash of the file content last put in force.</summary>
    private byte[]? _lastHash;
    private (DateTime Modified, long Length) _lastStamp;

    /// <summary>When the file's content was last read, whatever its stamp said (a monotonic timestamp).</summary>
    private long _lastReadAt;

    /// <summary>The hash of the content last read, in force or rejected: a rejected edit read again is not rejected again.</summary>
    private byte[]? _lastReadHash;
    private bool _fileInForce;

    /// <summary>Since when (a monotonic timestamp) the watcher has been leaving the file for its writer to finish; 0 when not.</summary>
    private long _waitingForWriterSince;

    /// <summary>The file was gone at the last check: a second check in a row reports it (an unlink and re-create is not a loss).</summary>
    private bool _goneAtLastCheck;

    /// <summary>Why the file could not be read (missing included), while it cannot; null while it can.</summary>
    private string? _unreadableReason;

    /// <summary>During a commit's read-back: the hash of the bytes it wrote, and their compiled policy.</summary>
    private (byte[] Hash, PolicySnapshot Draft)? _writtenDraft;

    public string PolicyPath { get; } = ResolvePath(options.Value.Policy.Path, environment.ContentRootPath);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (await LoadAsync(cancellationToken) is { } errors)
        {
            throw new InvalidOperationException(Failure(errors, "the gateway will not start"));
        }

        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.Policy.FileCheckInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            // Under the gate, like an admin reload or commit: a tick must not report on a file they have just replaced.
            await _gate.WaitAsync(stoppingToken);
            try
            {
                await CheckAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // Whatever a check throws that it does not expect must not end the watcher (a hosted service that fails
                // stops the gateway): logged with its stack, the file counts as unreadable, and the next tick reads it again.
                if (_unreadableReason is null)
                {
                    // Once, as the file becomes unreadable so, like event 1003: the next tick may well throw the same.
                    Log.PolicyFileCheckFailed(logger, PolicyPath, ex);
                }

                Report(inForce: false, $"{ex.GetType().Name}: {ex.Message}");
            }
            finally
            {
                _gate.Release();
            }
        }
    }

    private async Task CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            var file = TargetFile();
            if (GoneAtThisCheckOnly(gone: !file.Exists))
            {
                // The next check reports it if it is still missing.
            }
            else if (!file.Exists)
            {
                Report(inForce: false, "the file does not exist");
            }
            else if ((file.LastWriteTimeUtc, file.Length) != _lastStamp)
            {
                await LoadAsync(cancellationToken, mayBeMidWrite: true);
            }
            else if (time.GetElapsedTime(_lastReadAt) >= options.Value.Policy.FileContentCheckInterval && await ContentChangedAsync(file, cancellationToken))
            {
                await LoadAsync(cancellationToken, mayBeMidWrite: true);
            }
            else if (_fileInForce)
            {
                store.Confirm();
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Mid-write or briefly missing (unlinked and created again); the next tick sees the finished file.
            if (!GoneAtThisCheckOnly(gone: ex is FileNotFoundException or DirectoryNotFoundException))
            {
                Report(inForce: false, ex.Message);
            }
        }
    }

    /// <summary>
    /// Whether the file is gone at this check (missing, or vanished during the read) but was there at the last: left for
    /// the next check to report. Remembers whether it is gone.
    /// </summary>
    private bool GoneAtThisCheckOnly(bool gone)
    {
        var first = gone && !_goneAtLastCheck;
        _goneAtLastCheck = gone;
        return first;
    }

    /// <summary>How long a change waits for another gateway writing the same policy file.</summary>
    private static readonly TimeSpan WriterLockWait = TimeSpan.FromSeconds(5);

    public string Name => "file";

    public string? ReadOnlyReason => null;

    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        if (await LoadLockedAsync("the policy in force is unchanged", cancellationToken) is { } failure)
        {
            throw new InvalidDataException(failure);
        }
    }

    /// <summary>Writes the document to the file (temp file, then rename) if the file still holds the policy in force.</summary>
    public async Task<PolicyCommitResult> CommitAsync(PolicySnapshot draft, string basisETag, AuditEntry audit, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        FileStream? writerLock = null;
        try
        {
            // Gateways sharing the file (a volume mounted into several) take turns: between this one's check and its
            // rename, another's rename would be overwritten, and its change lost though it was answered 204.
            try
            {
                writerLock = await AcquireWriterLockAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return new PolicyCommitResult(PolicyCommitStatus.Unavailable, Detail: $"The policy file cannot be written: {ex.Message}");
            }

            // Someone may have edited the file by hand since it was last read (even within the same second and
            // length, so it is read and hashed again). An edit that is not in force, because it is invalid or
            // unreadable, must not be written over.
            var fileErrors = await LoadAsync(cancellationToken);
            if (fileErrors is not null && _unreadableReason is not null)
            {
                return new PolicyCommitResult(PolicyCommitStatus.Unavailable, Detail: Failure(fileErrors, "nothing was written, and the policy in force is unchanged"));
            }

            if (fileErrors is not null || store.Current?.ETag != ETagOf(_lastHash))
            {
                return new PolicyCommitResult(PolicyCommitStatus.Unavailable, Detail:
                    $"The policy file '{PolicyPath}' holds an edit that is not in force{(fileErrors is null ? "" : $" ({string.Join("; ", fileErrors.Take(3))})")}; fix or revert the file first, or this change would overwrite it.");
            }

            if (store.Current?.ETag != basisETag)
            {
                return new PolicyCommitResult(PolicyCommitStatus.Conflict, Detail: "The policy file changed since this change was prepared.");
            }

            string written;
            try
            {
                cancellationToken.ThrowIfCancellationRequested();
                byte[] hash = [];
                // Over the link's target, not the link: the path keeps naming the same file. Indented, as people read
                // and edit the file (the draft's document is the unindented form), and hashed as it is written.
                AtomicFile.Replace(TargetFile().FullName, stream =>
                {
                    using var sha256 = SHA256.Create();
                    using (var hashing = new CryptoStream(stream, sha256, CryptoStreamMode.Write, leaveOpen: true))
                    {
                        PolicyWriter.Indent(draft.DocumentUtf8.Span, hashing);
                    }

                    hash = sha256.Hash!;
                });
                written = ETagOf(hash);
                _writtenDraft = (hash, draft);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return new PolicyCommitResult(PolicyCommitStatus.Unavailable, Detail: $"The policy file cannot be written: {ex.Message}");
            }

            // The file holds the change now: the caller going away must not stop it from taking effect here. Read back
            // (another writer may have replaced it since), but not compiled again when it is what was written.
            try
            {
                if (await LoadAsync(CancellationToken.None) is { } errors)
                {
                    return new PolicyCommitResult(PolicyCommitStatus.Unavailable, Detail: Failure(errors, "the change was written but is not in force"));
                }
            }
            finally
            {
                _writtenDraft = null;
            }

            // Another process replaced the file between this write and its read: what is in force is theirs, and the
            // audit entry must not give this change their version.
            if (store.Current?.ETag != written)
            {
                return new PolicyCommitResult(PolicyCommitStatus.Conflict, Detail: "The policy file was replaced by another writer just after this change was written.");
            }

            return new PolicyCommitResult(PolicyCommitStatus.Committed, store.Current);
        }
        finally
        {
            writerLock?.Dispose();
            _gate.Release();
        }
    }

    /// <summary>
    /// An exclusive lock on <c>{policy file}.lock</c> beside the file: .NET takes FileShare.None as an advisory
    /// <c>flock</c> on Unix, which gateways sharing a file system honour (Linux's NFS client turns it into a byte-range
    /// lock across hosts, which needs the file open for writing). Waits a few seconds for another writer, then gives up
    /// with an <see cref="IOException"/>.
    /// </summary>
    private async Task<FileStream> AcquireWriterLockAsync(CancellationToken cancellationToken)
    {
        var path = TargetFile().FullName + ".lock";
        var giveUpAt = time.GetUtcNow() + WriterLockWait;
        while (true)
        {
            try
            {
                // Open for writing: on NFS an exclusive lock on a file opened read-only fails, and .NET ignores that
                // failure, so no lock would be held at all. A lock file another user created and this one may only read
                // still locks on a local file system.
                try
                {
                    return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                }
                catch (UnauthorizedAccessException) when (File.Exists(path))
                {
                    return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.None);
                }
            }
            catch (IOException) when (time.GetUtcNow() < giveUpAt && File.Exists(path))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), time, cancellationToken);
            }
            catch (IOException ex) when (File.Exists(path))
            {
                throw new IOException($"another gateway has held '{path}' for over {WriterLockWait.TotalSeconds:F0} s while writing the policy file ({ex.Message}); try again", ex);
            }
        }
    }

    /// <summary>Loads the file under the gate; null on success, else what is wrong with it and what follows.</summary>
    private async Task<string?> LoadLockedAsync(string consequence, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            return await LoadAsync(cancellationToken) is { } errors ? Failure(errors, consequence) : null;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>What a failed load found, naming the file, and <paramref name="consequence"/>: unreadable (and why), or invalid with every error.</summary>
    private string Failure(IReadOnlyList<string> errors, string consequence)
        => _unreadableReason is { } reason
            ? $"The policy file '{PolicyPath}' cannot be read; {consequence}: {reason}"
            : $"The policy file '{PolicyPath}' is invalid; {consequence}.{Environment.NewLine}{string.Join(Environment.NewLine, errors)}";

    /// <summary>
    /// The file the path names, through any symbolic links. A link's own time and length never change, and Kubernetes
    /// mounts a ConfigMap's file as a link into a directory it swaps on update: stamping the link would never see a change.
    /// </summary>
    private FileInfo TargetFile()
    {
        try
        {
            return File.ResolveLinkTarget(PolicyPath, returnFinalTarget: true) as FileInfo ?? new FileInfo(PolicyPath);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            // Nothing at the path (yet): the caller sees a file that does not exist.
            return new FileInfo(PolicyPath);
        }
    }

    /// <summary>
    /// Loads the file; returns null on success (or no change), otherwise the errors. <paramref name="mayBeMidWrite"/>
    /// (the watcher's reads) leaves a file that changed while it was read, or an invalid one written within
    /// <see cref="PolicyOptions.FileWriteSettle"/>, for the next check instead of rejecting it, for at most that long:
    /// a file written in place (cat >, kubectl cp, an editor saving over it) reads as half a policy until its writer is
    /// done, and one rewritten for ever must still be judged.
    /// </summary>
    private Task<IReadOnlyList<string>?> LoadAsync(CancellationToken cancellationToken, bool mayBeMidWrite = false)
        => GatewayTelemetry.InPolicyLoadAsync(Name, () => LoadFileAsync(cancellationToken, mayBeMidWrite));

    private async Task<IReadOnlyList<string>?> LoadFileAsync(CancellationToken cancellationToken, bool mayBeMidWrite)
    {
        (DateTime Modified, long Length) stamp;
        byte[] bytes;
        try
        {
            // Inside the try: a missing file (or directory) throws on its length, and must be an error, not a 500.
            var file = TargetFile();
            stamp = (file.LastWriteTimeUtc, file.Length);
            bytes = await File.ReadAllBytesAsync(file.FullName, cancellationToken);
            if (mayBeMidWrite && TargetFile() is var after && (after.LastWriteTimeUtc, after.Length) != stamp && MayWaitForWriter())
            {
                return null;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (mayBeMidWrite && GoneAtThisCheckOnly(gone: ex is FileNotFoundException or DirectoryNotFoundException))
            {
                return null;
            }

            Report(inForce: false, ex.Message);
            return [$"cannot read the policy file: {ex.Message}"];
        }

        _lastStamp = stamp;
        _lastReadAt = time.GetTimestamp();
        var hash = SHA256.HashData(bytes);
        _lastReadHash = hash;
        if (_lastHash is not null && hash.AsSpan().SequenceEqual(_lastHash))
        {
            _waitingForWriterSince = 0;
            GatewayTelemetry.PolicyLoadUnchanged();
            Report(inForce: true);
            return null;
        }

        var resourceTenant = options.Value.ResourceTenantId!.Value;

        // Compiled from the bytes, partner by partner: the typed model of a large policy is never held whole. Bytes this
        // gateway has just written were compiled before they were written.
        IReadOnlyList<PolicyError> parseErrors = [];
        var compiled = _writtenDraft is { } draft && hash.AsSpan().SequenceEqual(draft.Hash)
            ? draft.Draft
            : PolicyCompiler.Compile(bytes, resourceTenant, default, out parseErrors);
        if (compiled is null && mayBeMidWrite && time.GetUtcNow() - new DateTimeOffset(stamp.Modified, TimeSpan.Zero) is var sinceWritten
            && sinceWritten >= TimeSpan.Zero && sinceWritten < options.Value.Policy.FileWriteSettle && MayWaitForWriter())
        {
            // Read again at the next check, whatever its stamp says then.
            _lastStamp = default;
            return null;
        }

        _waitingForWriterSince = 0;

        if (compiled is null)
        {
            var errors = parseErrors.Select(e => e.ToString()).ToArray();
            Log.PolicyRejected(logger, PolicyPath, errors.Length, string.Join(Environment.NewLine, errors));
            telemetry.PolicyReloaded("invalid");
            Report(inForce: false, rejected: $"The policy file holds an edit that is not in force, with {errors.Length} error(s); the first: {errors[0]}");
            return errors;
        }

        // Numbered only now, so that an invalid file uses up no version.
        var version = new PolicyVersion(store.NextVersion(), ETagOf(hash), time.GetUtcNow());
        var snapshot = compiled.WithVersion(version);
        store.Swap(snapshot);
        _lastHash = hash;
        Report(inForce: true);
        Log.PolicyLoaded(logger, PolicyPath, snapshot.Version, snapshot.PartnerCount);
        telemetry.PolicyReloaded("success");
        return null;
    }

    /// <summary>Whether the file may be left for the next check as still being written: for at most the settle time in a row.</summary>
    private bool MayWaitForWriter()
    {
        if (_waitingForWriterSince == 0)
        {
            _waitingForWriterSince = time.GetTimestamp();
        }

        return time.GetElapsedTime(_waitingForWriterSince) < options.Value.Policy.FileWriteSettle;
    }

    /// <summary>
    /// Whether the content differs from what was last read. The stamp cannot tell every replacement apart (the same
    /// length in the same clock tick, cp -p): the content is compared, streamed, so that an unchanged large policy costs
    /// no buffer of its size.
    /// </summary>
    private async Task<bool> ContentChangedAsync(FileInfo file, CancellationToken cancellationToken)
    {
        _lastReadAt = time.GetTimestamp();
        await using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 64 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return !(await SHA256.HashDataAsync(stream, cancellationToken)).AsSpan().SequenceEqual(_lastReadHash);
    }

    /// <summary>
    /// Whether the file holds the policy in force. Only then is the policy confirmed; otherwise the source is degraded.
    /// A file that becomes missing or unreadable is logged and counted as a failed reload once, as it becomes so: the
    /// watcher has no backoff, and counting every tick would count twice a second (a rejected edit was logged and
    /// counted already).
    /// </summary>
    private void Report(bool inForce, string? unreadable = null, string? rejected = null)
    {
        _fileInForce = inForce;
        var wasUnreadable = _unreadableReason is not null;
        _unreadableReason = unreadable;
        if (unreadable is not null)
        {
            // Forget the stamp: a file that comes back as it was (same time and length: mv, cp -p, a restore) is read
            // again. Whatever is written next is a new write: its writer gets the whole settle time.
            _lastStamp = default;
            _waitingForWriterSince = 0;
            if (!wasUnreadable)
            {
                // Counted before the state is shown, so that whoever sees it degraded finds the failure counted.
                Log.PolicyFileUnreadable(logger, PolicyPath, unreadable);
                telemetry.PolicyReloaded("failure");
            }
            else
            {
                GatewayTelemetry.PolicyLoadEnded("failure");
            }
        }

        if (inForce)
        {
            store.ReportSource(PolicySourceState.Healthy);
            store.Confirm();
            return;
        }

        store.ReportSource(PolicySourceState.Degraded, unreadable ?? rejected);
    }

    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(fileHash))]
    private static string? ETagOf(byte[]? fileHash) => fileHash is null ? null : $"\"{Convert.ToHexStringLower(fileHash.AsSpan(0, 12))}\"";

    internal static string ResolvePath(string? configured, string contentRoot)
    {
        if (string.IsNullOrWhiteSpace(configured))
        {
            throw new InvalidOperationException($"'{GatewayOptions.Section}:Policy:Path' is not set: name the policy file (Graph's cross-tenant access policy JSON).");
        }

        return Path.IsPathRooted(configured) ? configured : Path.GetFullPath(Path.Combine(contentRoot, configured));
    }
}
