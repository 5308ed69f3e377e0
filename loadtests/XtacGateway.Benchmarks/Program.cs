using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

// dotnet run -c Release --project loadtests/XtacGateway.Benchmarks -- --filter '*'
// Benchmarks run in-process by default (no generated project to build: kinder to a shared 2-core machine);
// pass --out-of-process to let BenchmarkDotNet build and launch its usual separate process. Any other
// BenchmarkDotNet option works as usual, for example --job short for a quick pass.
// --paired [ROUNDS]: the enforcement variants in interleaved rounds (PairedEnforcementRun), instead of BenchmarkDotNet.
// Exits 1 when a benchmark failed or none ran (BenchmarkDotNet itself prints the exception and exits 0): CI runs
// every benchmark with --job Dry (no pilot, one launch; the warm-up and iteration counts a class sets stay) so a
// set-up broken by a change in the gateway is caught.
if (args.Length > 0 && args[0] == "--paired")
{
    XtacGateway.Benchmarks.PairedEnforcementRun.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 100);
    return 0;
}

var outOfProcess = args.Contains("--out-of-process");
var rest = args.Where(a => a != "--out-of-process").ToList();
if (!outOfProcess && !rest.Contains("--inProcess") && !rest.Contains("-i"))
{
    rest.Add("--inProcess");
}

var summaries = BenchmarkSwitcher.FromAssembly(typeof(XtacGateway.Benchmarks.DecideBenchmarks).Assembly)
    .Run([.. rest], DefaultConfig.Instance.WithOptions(ConfigOptions.JoinSummary)).ToArray();
var reports = summaries.SelectMany(s => s.Reports).ToArray();
var failed = reports.Where(r => !r.Success).Select(r => r.BenchmarkCase.DisplayInfo).ToArray();
if (reports.Length == 0 || failed.Length > 0 || summaries.Any(s => s.HasCriticalValidationErrors))
{
    Console.Error.WriteLine($"Benchmarks that failed: {(reports.Length == 0 ? "none ran (a filter that matches nothing, or arguments not understood)" : failed.Length > 0 ? string.Join("; ", failed) : "validation errors (see above)")}");
    return 1;
}

return 0;
