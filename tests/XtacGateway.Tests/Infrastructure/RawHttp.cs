using System.Net.Sockets;
using System.Text;

namespace XtacGateway.Tests.Infrastructure;

/// <summary>
/// An HTTP/1.1 request written byte for byte over TCP: for what HttpClient would normalise or refuse to send (an
/// unusual request target, a header repeated on its own line).
/// </summary>
internal static class RawHttp
{
    public static async Task<(int Status, string Response)> GetAsync(Uri server, string target, params string[] headerLines)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.Host, server.Port);
        var stream = tcp.GetStream();
        var headers = string.Concat(headerLines.Select(line => line + "\r\n"));
        var request = $"GET {target} HTTP/1.1\r\nHost: {server.Authority}\r\n{headers}Connection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var response = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var statusLine = response[..response.IndexOf("\r\n", StringComparison.Ordinal)];
        return (int.Parse(statusLine.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), response);
    }
}
