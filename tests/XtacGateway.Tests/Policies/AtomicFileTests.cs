using XtacGateway.Policies;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Policies;

public sealed class AtomicFileTests
{
    [Fact]
    public void Replace_WriteSucceeds_FileHoldsTheNewBytesAndNoTempIsLeft()
    {
        using var temp = new TempDirectory("xtac-atomic-");
        var path = Path.Combine(temp.Path, "policy.json");
        File.WriteAllText(path, "old");

        AtomicFile.Replace(path, stream => stream.Write("new"u8));

        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(temp.Path));
    }

    [Fact]
    public void Replace_WriteFailsPartWay_OldFileKeptAndNoTempIsLeft()
    {
        using var temp = new TempDirectory("xtac-atomic-");
        var path = Path.Combine(temp.Path, "policy.json");
        File.WriteAllText(path, "old");

        Assert.Throws<OperationCanceledException>(() => AtomicFile.Replace(path, stream =>
        {
            stream.Write("half of the n"u8);
            throw new OperationCanceledException();
        }));

        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(temp.Path));
    }
}
