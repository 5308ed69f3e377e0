using XtacGateway;
using XtacGateway.Cli;

if (CommandLine.IsCommand(args))
{
    return await CommandLine.RunAsync(args, Console.Out, Console.Error);
}

var app = GatewayApplication.Create(args);
await app.RunAsync();
return GatewayApplication.ExitCode(app);
