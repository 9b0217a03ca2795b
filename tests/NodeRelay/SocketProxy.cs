using System.Net;
using System.Net.Sockets;

namespace Automator67.Tests.NodeRelay;

/// <summary>
/// A socket forwarder that a test can cut and restore: the relay talks to Azurite or the Docker Engine through it,
/// and <see cref="Stop"/> makes that part look down (listener closed, open connections dropped) without touching
/// the shared local stack.
/// </summary>
public sealed class SocketProxy(EndPoint listen, EndPoint target) : IAsyncDisposable
{
    readonly List<Socket> _open = [];
    Socket? _listener;
    Task _accepting = Task.CompletedTask;

    public EndPoint Listen => _listener?.LocalEndPoint ?? listen;

    public void Start()
    {
        if (listen is UnixDomainSocketEndPoint unix && File.Exists(unix.ToString()))
        {
            File.Delete(unix.ToString());
        }

        _listener = new Socket(listen.AddressFamily, SocketType.Stream, listen is UnixDomainSocketEndPoint ? ProtocolType.Unspecified : ProtocolType.Tcp);
        if (listen is IPEndPoint)
        {
            // Listen again on the same port after Stop, whatever its old connections are doing.
            _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        }

        _listener.Bind(listen);
        _listener.Listen(64);
        listen = _listener.LocalEndPoint!;
        _accepting = AcceptAsync(_listener);
    }

    public void Stop()
    {
        _listener?.Close();
        _listener = null;
        lock (_open)
        {
            foreach (var socket in _open)
            {
                socket.Close();
            }

            _open.Clear();
        }
    }

    async Task AcceptAsync(Socket listener)
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync();
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ForwardAsync(client);
        }
    }

    async Task ForwardAsync(Socket client)
    {
        var upstream = new Socket(target.AddressFamily, SocketType.Stream, target is UnixDomainSocketEndPoint ? ProtocolType.Unspecified : ProtocolType.Tcp);
        lock (_open)
        {
            _open.Add(client);
            _open.Add(upstream);
        }

        try
        {
            await upstream.ConnectAsync(target);
            using var a = new NetworkStream(client, ownsSocket: true);
            using var b = new NetworkStream(upstream, ownsSocket: true);
            await Task.WhenAny(a.CopyToAsync(b), b.CopyToAsync(a));
        }
        catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException)
        {
        }
        finally
        {
            client.Close();
            upstream.Close();
            lock (_open)
            {
                _open.Remove(client);
                _open.Remove(upstream);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Stop();
        await _accepting;
    }
}
