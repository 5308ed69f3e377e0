namespace XtacGateway.Cli;

/// <summary>
/// The command words the host understands. With one of them the process runs that command and exits;
/// without one it runs the gateway.
/// </summary>
internal static class CommandLine
{
    public const int Success = 0;
    public const int Invalid = 1;
    public const int UsageError = 2;

    /// <summary>
    /// The gateway's own settings as a command sees them (appsettings.json and its environment file, from the current
    /// folder when it has one, else beside the program; then environment variables), so a command and the gateway
    /// read callers and keys alike.
    /// </summary>
    public static IConfiguration LoadConfiguration()
    {
        var root = File.Exists(Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json")) ? Directory.GetCurrentDirectory() : AppContext.BaseDirectory;
        var environment = Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") ?? Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") ?? "Production";
        try
        {
            return new ConfigurationBuilder()
                .SetBasePath(root)
                .AddJsonFile("appsettings.json", optional: true)
                .AddJsonFile($"appsettings.{environment}.json", optional: true)
                .AddEnvironmentVariables()
                .Build();
        }
        catch (InvalidDataException ex)
        {
            // A malformed settings file: the provider's message names the file and the JSON error.
            throw new UsageException($"the settings cannot be read: {ex.Message}{(ex.InnerException is { } inner ? $" {inner.Message}" : "")}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // One that cannot be opened (no read permission): a usage error naming it, not a crash.
            throw new UsageException($"the settings cannot be read: {ex.Message}");
        }
    }

    /// <summary>
    /// Whether the arguments name a command rather than the gateway's settings. A first word that is neither a setting
    /// (<c>--key value</c>, <c>/key value</c>, <c>key=value</c>) nor a command is a mistyped command, answered with a usage
    /// error: run as the gateway it would bind the ports and keep a script waiting. An empty first word (a wrapper's
    /// empty variable) is nothing, as ASP.NET Core has it.
    /// </summary>
    public static bool IsCommand(string[] args)
        => args.Length > 0 && !string.IsNullOrWhiteSpace(args[0])
            && (args[0] is "--help" or "-h" || !(args[0].StartsWith('-') || args[0].StartsWith('/') || args[0].Contains('=')));

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var rest = args.AsSpan(1).ToArray();
        try
        {
            return args[0] switch
            {
                "validate" => await ValidateCommand.RunAsync(rest, stdout, stderr),
                "evaluate" => await EvaluateCommand.RunAsync(rest, stdout, stderr),
                "token" => TokenCommand.Run(rest, stdout, stderr),
                "healthcheck" => await HealthCheckCommand.RunAsync(rest, stderr),
                "help" or "--help" or "-h" => Help(stdout),
                _ => throw new UsageException($"unknown command; the commands are validate, evaluate, token, healthcheck and help, and settings are given as --Section:Key=value."),
            };
        }
        catch (UsageException ex)
        {
            await stderr.WriteLineAsync($"{args[0]}: {ex.Message}");
            return UsageError;
        }
    }

    private static int Help(TextWriter stdout)
    {
        stdout.WriteLine("""
            XtacGateway: request-time enforcement of Entra cross-tenant access settings.

            Usage:
              XtacGateway                                  run the gateway (appsettings.json, --urls, --Section:Key=value)
              XtacGateway validate --policy FILE [--resource-tenant GUID]
              XtacGateway evaluate --policy FILE --input FILE [--resource-tenant GUID]
              XtacGateway token [--tenant GUID] [--oid GUID] [--group GUID]... [--amr VALUE]... [--wids GUID]...
                                [--idp URL] [--app GUID] [--role NAME]... [--claim NAME=VALUE]... [--expires-in SECONDS]
              XtacGateway healthcheck [URL]                exit 0 when URL (default http://127.0.0.1:8080/healthz) answers 2xx
            """);
        return Success;
    }
}

/// <summary>A command was called wrongly; the message says how.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>A minimal option reader: <c>--name value</c> pairs, repeatable where the command allows.</summary>
internal sealed class CommandOptions
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);

    private CommandOptions()
    {
    }

    public static CommandOptions Parse(string[] args, IReadOnlySet<string> known)
    {
        var options = new CommandOptions();
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (!name.StartsWith("--", StringComparison.Ordinal) || !known.Contains(name[2..]))
            {
                throw new UsageException($"unknown option '{name}'; expected one of {string.Join(", ", known.Select(k => "--" + k))}.");
            }

            if (i + 1 >= args.Length)
            {
                throw new UsageException($"option '{name}' needs a value.");
            }

            if (!options._values.TryGetValue(name[2..], out var list))
            {
                options._values[name[2..]] = list = [];
            }

            list.Add(args[++i]);
        }

        return options;
    }

    public string? Single(string name)
    {
        if (!_values.TryGetValue(name, out var list))
        {
            return null;
        }

        return list.Count == 1 ? list[0] : throw new UsageException($"option '--{name}' may be given once.");
    }

    public string Required(string name) => Single(name) ?? throw new UsageException($"option '--{name}' is required.");

    public IReadOnlyList<string> All(string name) => _values.TryGetValue(name, out var list) ? list : [];

    public Guid? Guid(string name)
    {
        var text = Single(name);
        if (text is null)
        {
            return null;
        }

        return System.Guid.TryParse(text, out var value) ? value : throw new UsageException($"option '--{name}' must be a GUID, not '{text}'.");
    }
}
