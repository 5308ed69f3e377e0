namespace XtacGateway.Tests.Infrastructure;

/// <summary>A fresh directory under the system's temp directory, deleted with everything in it on dispose.</summary>
internal sealed class TempDirectory(string prefix) : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
