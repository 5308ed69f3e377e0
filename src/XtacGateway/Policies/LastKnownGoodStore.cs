using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Model;
using XtacGateway.Policy.Validation;

namespace XtacGateway.Policies;

/// <summary>
/// The last policy a shared source (Redis, Graph) delivered, kept on local disk with its version and ETag, so that an
/// instance restarted while its source is down still starts with a policy rather than failing closed.
/// </summary>
internal sealed class LastKnownGoodStore(IOptions<PolicySourceOptions> options, IHostEnvironment environment, ILogger<LastKnownGoodStore> logger)
{
    private readonly Lock _gate = new();

    public string Path { get; } = options.Value.ResolveLastKnownGoodPath(environment.ContentRootPath);

    /// <summary>Writes the snapshot's document atomically (temp file, then rename); failures are logged, never thrown.</summary>
    public void Save(PolicySnapshot snapshot)
    {
        lock (_gate)
        {
            var temp = $"{Path}.{Environment.ProcessId}.tmp";
            try
            {
                Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
                using (var stream = File.Create(temp))
                using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
                {
                    writer.WriteStartObject();
                    writer.WriteNumber("version", snapshot.Version);
                    writer.WriteString("etag", snapshot.ETag);
                    writer.WriteString("loadedAt", snapshot.LoadedAt);
                    writer.WritePropertyName("document");
                    PolicyWriter.Write(writer, snapshot.Document);
                    writer.WriteEndObject();
                }

                File.Move(temp, Path, overwrite: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                PolicySourceLog.LastKnownGoodNotWritten(logger, Path, ex.Message);
            }
        }
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

        if (TryLoad(resourceTenant) is { } saved)
        {
            store.Swap(saved);
            PolicySourceLog.StartedFromLastKnownGood(logger, sourceName, saved.Version, Path);
        }
        else
        {
            PolicySourceLog.StartedWithoutPolicy(logger, sourceName, Path);
        }
    }

    /// <summary>The saved snapshot, or null when there is none or it is unreadable or invalid.</summary>
    public PolicySnapshot? TryLoad(Guid resourceTenant)
    {
        if (!File.Exists(Path))
        {
            return null;
        }

        try
        {
            using var json = JsonDocument.Parse(File.ReadAllBytes(Path));
            var root = json.RootElement;
            var version = root.GetProperty("version").GetInt64();
            var etag = root.GetProperty("etag").GetString()!;
            var loadedAt = root.GetProperty("loadedAt").GetDateTimeOffset();
            var parsed = PolicyParser.Parse(Encoding.UTF8.GetBytes(root.GetProperty("document").GetRawText()), resourceTenant);
            if (!parsed.IsValid)
            {
                PolicySourceLog.LastKnownGoodUnreadable(logger, Path, string.Join("; ", parsed.Errors));
                return null;
            }

            return PolicyCompiler.Compile(parsed.Document!, resourceTenant, new PolicyVersion(version, etag, loadedAt));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            PolicySourceLog.LastKnownGoodUnreadable(logger, Path, ex.Message);
            return null;
        }
    }
}
