namespace XtacGateway.Cli;

/// <summary><c>healthcheck [URL]</c>: for container HEALTHCHECKs, where the runtime image has no curl.</summary>
internal static class HealthCheckCommand
{
    public static async Task<int> RunAsync(string[] args, TextWriter stderr)
    {
        var url = args.Length > 0 ? args[0] : "http://127.0.0.1:8080/healthz";
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new UsageException($"'{url}' is not an absolute http or https URL (for example http://127.0.0.1:8080/healthz).");
        }

        // Under the image's HEALTHCHECK --timeout (3 s), which also covers starting dotnet: the check reports, not Docker's kill.
        // No proxy: HTTP_PROXY set for the gateway's calls to Entra and Graph would otherwise carry even 127.0.0.1.
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(2) };
        try
        {
            using var response = await client.GetAsync(uri);
            if (response.IsSuccessStatusCode)
            {
                return CommandLine.Success;
            }

            await stderr.WriteLineAsync($"{url} answered {(int)response.StatusCode}.");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            await stderr.WriteLineAsync($"{url}: {ex.Message}");
        }

        return CommandLine.Invalid;
    }
}
