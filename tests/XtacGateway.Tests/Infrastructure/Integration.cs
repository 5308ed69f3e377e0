namespace XtacGateway.Tests.Infrastructure;

/// <summary>
/// Tests that need a real server (redis-server, prometheus) skip with a clear message where it is not installed; CI
/// sets <c>XTAC_REQUIRE_INTEGRATION=1</c>, where a missing server fails them instead of letting them pass as skipped.
/// </summary>
internal static class Integration
{
    public const string RequiredVariable = "XTAC_REQUIRE_INTEGRATION";

    public static void SkipUnless(bool available, string reason)
    {
        if (!available && Environment.GetEnvironmentVariable(RequiredVariable) == "1")
        {
            Assert.Fail($"{reason} ({RequiredVariable}=1: this run requires it.)");
        }

        Skip.IfNot(available, reason);
    }
}
