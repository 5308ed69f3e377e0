using XtacGateway;
using XtacGateway.Cli;

if (CommandLine.IsCommand(args))
{
    return await CommandLine.RunAsync(args, Console.Out, Console.Error);
}

return await GatewayApplication.RunAsync(GatewayApplication.Create(args));
