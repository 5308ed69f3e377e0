using BenchmarkDotNet.Attributes;
using XtacGateway.LoadTests;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Model;
using XtacGateway.Policy.Validation;

namespace XtacGateway.Benchmarks;

/// <summary>Compiling 100,000 partners (issue 2: under 2 s), and the whole reload path: parse, validate and compile the file's bytes partner by partner, as FilePolicySource does.</summary>
[MemoryDiagnoser]
[WarmupCount(1)]
[IterationCount(5)]
[InvocationCount(1)]
public class CompileBenchmarks
{
    private PolicyDocument _document = null!;
    private byte[] _utf8 = null!;

    [GlobalSetup]
    public void Setup()
    {
        _document = LoadTestPolicy.Build(100_000);
        _utf8 = PolicyWriter.WriteUtf8(_document, indented: false);
    }

    [Benchmark(Description = "compile 100k partners")]
    public PolicySnapshot Compile() => PolicyCompiler.Compile(_document, LoadTestPolicy.ResourceTenant);

    [Benchmark(Description = "parse+validate+compile 100k (file reload)")]
    public PolicySnapshot ParseAndCompile()
        => PolicyCompiler.Compile(_utf8, LoadTestPolicy.ResourceTenant, default, out var errors)
            ?? throw new InvalidOperationException(string.Join("; ", errors));
}
