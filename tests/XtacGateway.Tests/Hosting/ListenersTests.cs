using Microsoft.Extensions.Configuration;
using XtacGateway.Hosting;

namespace XtacGateway.Tests.Hosting;

public sealed class ListenersTests
{
    [Theory]
    [InlineData(null, null, null, new[] { "http://localhost:5000" })]
    [InlineData("http://127.0.0.1:6000;http://[::1]:6000", "8080", null, new[] { "http://127.0.0.1:6000", "http://[::1]:6000" })]
    [InlineData(null, "8080", null, new[] { "http://*:8080" })]
    [InlineData(null, "8080; 8081", "8443", new[] { "http://*:8080", "http://*:8081", "https://*:8443" })]
    [InlineData("", "8080", null, new[] { "http://*:8080" })]
    public void ProxyUrls_UrlsOrPortsSettings_AsAspNetCoreReadsThem(string? urls, string? httpPorts, string? httpsPorts, string[] expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["urls"] = urls,
            ["http_ports"] = httpPorts,
            ["https_ports"] = httpsPorts,
        }).Build();

        Assert.Equal(expected, Listeners.ProxyUrls(configuration));
    }
}
