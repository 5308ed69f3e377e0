using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

// dotnet run -c Release --project loadtests/XtacGateway.Benchmarks -- --filter '*'
// Benchmarks run in-process by default (no generated project to build: kinder to a shared 2-core machine);
// pass --out-of-process to let BenchmarkDotNet build and launch its usual separate process. Any other
// BenchmarkDotNet option works as usual, for example --job short for a quick pass.
// --paired [ROUNDS]: the enforcement variants in interleaved rounds (PairedEnforcementRun), instead of BenchmarkDotNet.
if (args.Length > 0 && args[0] == "--paired")
{
    XtacGateway.Benchmarks.PairedEnforcementRun.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 100);
    return;
}

var outOfProcess = args.Contains("--out-of-process");
var rest = args.Where(a => a != "--out-of-process").ToList();
if (!outOfProcess && !rest.Contains("--inProcess") && !rest.Contains("-i"))
{
    rest.Add("--inProcess");
}

BenchmarkSwitcher.FromAssembly(typeof(XtacGateway.Benchmarks.DecideBenchmarks).Assembly)
    .Run([.. rest], DefaultConfig.Instance.WithOptions(ConfigOptions.JoinSummary));
