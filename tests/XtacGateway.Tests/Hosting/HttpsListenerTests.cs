using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using XtacGateway.Hosting;
using XtacGateway.Tests.Infrastructure;

namespace XtacGateway.Tests.Hosting;

public sealed class HttpsListenerTests
{
    [Fact]
    public async Task Start_HttpsUrlsWithKestrelDefaultCertificate_ServesTlsWithThatCertificate()
    {
        using var certificate = SelfSigned();
        var directory = Directory.CreateTempSubdirectory("xtac-tls-").FullName;
        try
        {
            var pfx = Path.Combine(directory, "gateway.pfx");
            await File.WriteAllBytesAsync(pfx, certificate.Export(X509ContentType.Pfx, "secret"));

            // Production: no development certificate to fall back on, as in the container.
            await using var gateway = await GatewayHarness.StartAsync(TestPolicies.Standard(), s =>
            {
                s["Kestrel:Certificates:Default:Path"] = pfx;
                s["Kestrel:Certificates:Default:Password"] = "secret";
                s["Xtac:Management:Urls"] = "https://127.0.0.1:0";
            }, environment: "Production", configureBuilder: b => b.WebHost.UseSetting("urls", "https://127.0.0.1:0"));

            var listeners = gateway.Service<ListenerEndpoints>();
            foreach (var url in (string[])[listeners.ProxyUrls[0], listeners.ManagementUrls[0]])
            {
                string? presented = null;
                using var handler = new HttpClientHandler
                {
                    ServerCertificateCustomValidationCallback = (_, cert, _, _) =>
                    {
                        presented = cert?.Thumbprint;
                        return true;
                    },
                };
                using var client = new HttpClient(handler);

                using var response = await client.GetAsync(new Uri(new Uri(url), "/healthz"));

                Assert.StartsWith("https://", url, StringComparison.Ordinal);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal(certificate.Thumbprint, presented);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
    }
}
