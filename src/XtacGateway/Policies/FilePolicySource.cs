using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using XtacGateway.Observability;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Validation;

namespace XtacGateway.Policies;

/// <summary>
/// Loads the policy file at start-up (an invalid file stops start-up) and watches it: a valid change is
/// swapped in, an invalid one is logged with all its errors while the previous policy stays in force.
/// The file is polled rather than watched with inotify, so editors that replace files by rename are seen too.
/// </summary>
internal sealed partial class FilePolicySource(
    PolicySnapshotStore store,
    IOptions<GatewayOptions> options,
    IHostEnvironment environment,
    TimeProvider time,
    GatewayTelemetry telemetry,
    ILogger<FilePolicySource> logger) : BackgroundService
{
    private byte[]? _lastHash;
    private (DateTime Modified, long Length) _lastStamp;

    public string PolicyPath { get; } = ResolvePath(options.Value.Policy.Path, environment.ContentRootPath);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var result = await LoadAsync(cancellationToken);
        if (result is { } errors)
        {
            throw new InvalidOperationException(
                $"The policy file '{PolicyPath}' is invalid; the gateway will not start.{Environment.NewLine}{string.Join(Environment.NewLine, errors)}");
        }

        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.Policy.FileCheckInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                if (HasChanged())
                {
                    await LoadAsync(stoppingToken);
                }
                else if (File.Exists(PolicyPath))
                {
                    store.Confirm();
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Mid-write or briefly missing (rename-replace); the next tick sees the finished file.
                Log.PolicyFileUnreadable(logger, PolicyPath, ex.Message);
            }
        }
    }

    private bool HasChanged()
    {
        var info = new FileInfo(PolicyPath);
        if (!info.Exists)
        {
            return false;
        }

        return (info.LastWriteTimeUtc, info.Length) != _lastStamp;
    }

    /// <summary>Loads the file; returns null on success (or no change), otherwise the errors.</summary>
    private async Task<IReadOnlyList<string>?> LoadAsync(CancellationToken cancellationToken)
    {
        var info = new FileInfo(PolicyPath);
        var stamp = (info.LastWriteTimeUtc, info.Length);
        byte[] bytes;
        try
        {
            bytes = await File.ReadAllBytesAsync(PolicyPath, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            telemetry.PolicyReloaded("failure");
            return [$"cannot read the policy file: {ex.Message}"];
        }

        _lastStamp = stamp;
        var hash = SHA256.HashData(bytes);
        if (_lastHash is not null && hash.AsSpan().SequenceEqual(_lastHash))
        {
            return null;
        }

        var resourceTenant = options.Value.ResourceTenantId!.Value;
        var parsed = PolicyParser.Parse(bytes, resourceTenant);
        if (!parsed.IsValid)
        {
            _lastHash = hash;
            var errors = parsed.Errors.Select(e => e.ToString()).ToArray();
            Log.PolicyRejected(logger, PolicyPath, errors.Length, string.Join(Environment.NewLine, errors));
            telemetry.PolicyReloaded("invalid");
            return errors;
        }

        var version = new PolicyVersion(store.NextVersion(), $"\"{Convert.ToHexStringLower(hash.AsSpan(0, 12))}\"", time.GetUtcNow());
        var snapshot = PolicyCompiler.Compile(parsed.Document!, resourceTenant, version);
        store.Swap(snapshot);
        _lastHash = hash;
        Log.PolicyLoaded(logger, PolicyPath, snapshot.Version, snapshot.PartnerCount);
        telemetry.PolicyReloaded("success");
        return null;
    }

    internal static string ResolvePath(string? configured, string contentRoot)
    {
        if (string.IsNullOrWhiteSpace(configured))
        {
            throw new InvalidOperationException($"'{GatewayOptions.Section}:Policy:Path' is not set: name the policy file (Graph's cross-tenant access policy JSON).");
        }

        return Path.IsPathRooted(configured) ? configured : Path.GetFullPath(Path.Combine(contentRoot, configured));
    }
}
