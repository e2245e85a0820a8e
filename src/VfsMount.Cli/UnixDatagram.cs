using System.Net.Sockets;
using System.Text;

namespace VfsMount.Cli;

/// <summary>One datagram to a unix socket: how syslog (/dev/log, the journal's too) and sd_notify are spoken.</summary>
internal static class UnixDatagram
{
    /// <summary>Sends text to the socket at path ('@' first: Linux's abstract namespace); false when nobody listens.</summary>
    public static bool Send(string path, string text)
    {
        if (path.StartsWith('@')) path = "\0" + path[1..];
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.SendTo(Encoding.UTF8.GetBytes(text), new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
