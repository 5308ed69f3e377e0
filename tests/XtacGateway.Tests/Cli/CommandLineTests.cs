using XtacGateway.Cli;

namespace XtacGateway.Tests.Cli;

public sealed class CommandLineTests
{
    [Theory]
    [InlineData("valdiate", "--policy", "policy.json")]
    [InlineData("serve")]
    public async Task RunAsync_UnknownCommandWord_UsageErrorNamingIt(params string[] args)
    {
        Assert.True(CommandLine.IsCommand(args), "a mistyped command would run the gateway");

        var result = await CliRunner.RunAsync(args);

        Assert.Equal(CommandLine.UsageError, result.ExitCode);
        Assert.StartsWith($"{args[0]}: unknown command", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("validate, evaluate, token, healthcheck and help", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--urls", "http://127.0.0.1:0")]
    [InlineData("--Xtac:Policy:Path=policy.json")]
    [InlineData("/environment", "Development")]
    [InlineData("Xtac:Policy:Path=policy.json")]
    // A wrapper's empty variable ("$EXTRA") is no command, as ASP.NET Core ignores it.
    [InlineData("")]
    [InlineData(" ", "--urls", "http://127.0.0.1:0")]
    public void IsCommand_SettingsOnly_RunsTheGateway(params string[] args)
        => Assert.False(CommandLine.IsCommand(args));

    [Theory]
    [InlineData("help")]
    [InlineData("--help")]
    [InlineData("-h")]
    public async Task RunAsync_Help_PrintsUsage(string word)
    {
        var result = await CliRunner.RunAsync(word);

        Assert.Equal(CommandLine.Success, result.ExitCode);
        Assert.Contains("XtacGateway validate --policy FILE", result.Stdout, StringComparison.Ordinal);
    }
}
