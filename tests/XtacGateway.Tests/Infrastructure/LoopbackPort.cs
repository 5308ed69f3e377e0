using System.Net;
using System.Net.Sockets;

namespace XtacGateway.Tests.Infrastructure;

internal static class LoopbackPort
{
    /// <summary>A port free on 127.0.0.1 a moment ago (another process may still take it before it is bound).</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
