using XtacGateway.Policy.Validation;

namespace XtacGateway.Cli;

/// <summary><c>validate --policy FILE [--resource-tenant GUID]</c>: 0 valid, 1 invalid, 2 usage error or unreadable file.</summary>
internal static class ValidateCommand
{
    private static readonly HashSet<string> s_options = ["policy", "resource-tenant"];

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var options = CommandOptions.Parse(args, s_options);
        var path = options.Required("policy");
        var resourceTenant = options.Guid("resource-tenant");

        var bytes = await PolicyFile.ReadAsync(path, stderr);
        if (bytes is null)
        {
            return CommandLine.UsageError;
        }

        var result = PolicyParser.Parse(bytes, resourceTenant);
        if (result.IsValid)
        {
            await stdout.WriteLineAsync($"{path}: valid ({result.Document!.Partners.Count} partners).");
            return CommandLine.Success;
        }

        await stdout.WriteLineAsync($"{path}: {result.Errors.Count} error(s).");
        foreach (var error in result.Errors)
        {
            await stdout.WriteLineAsync($"{error.Path}: {error.Message}");
        }

        return CommandLine.Invalid;
    }
}

internal static class PolicyFile
{
    /// <summary>Reads a file for a command; null (with the reason on stderr) when it cannot be read.</summary>
    public static async Task<byte[]?> ReadAsync(string path, TextWriter stderr)
    {
        try
        {
            return await File.ReadAllBytesAsync(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            await stderr.WriteLineAsync($"cannot read '{path}': {ex.Message}");
            return null;
        }
    }
}
