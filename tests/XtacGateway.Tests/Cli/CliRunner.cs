using XtacGateway.Cli;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Cli;

/// <summary>What one in-process command run wrote and returned.</summary>
internal sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}{Environment.NewLine}stdout:{Environment.NewLine}{Stdout}{Environment.NewLine}stderr:{Environment.NewLine}{Stderr}";
}

/// <summary>The sample files the README walks through.</summary>
internal static class SamplePaths
{
    public static string Policy => RepositoryPaths.Combine("src", "XtacGateway", "Samples", "policy.json");

    public static string EvaluateRequests => RepositoryPaths.Combine("src", "XtacGateway", "Samples", "evaluate-requests.json");
}

internal static class CliRunner
{
    public static async Task<CliResult> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exitCode = await CommandLine.RunAsync(args, stdout, stderr);
        return new CliResult(exitCode, stdout.ToString(), stderr.ToString());
    }

    /// <summary>A file in a fresh temporary folder, deleted with it on dispose.</summary>
    public static TempFile Write(string name, string content) => new(name, content);
}

internal sealed class TempFile : IDisposable
{
    private readonly string _directory;

    public TempFile(string name, string content)
    {
        _directory = Directory.CreateTempSubdirectory("xtac-cli-").FullName;
        Path = System.IO.Path.Combine(_directory, name);
        File.WriteAllText(Path, content);
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless.
        }
    }
}
