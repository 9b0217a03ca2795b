using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Automator67.Tests.Features.Secrets;

/// <summary>
/// A TCP forwarder in front of Azurite's queue endpoint that keeps every byte passing either way: every queue message
/// the control plane and the relays send or receive (plain HTTP to Azurite), so a test can read all of them afterwards,
/// including those deleted long ago.
/// </summary>
public sealed partial class RecordingProxy(IPEndPoint target) : IAsyncDisposable
{
    readonly MemoryStream _recorded = new();
    readonly CancellationTokenSource _stop = new();
    TcpListener? _listener;
    Task _accepting = Task.CompletedTask;

    public int Port { get; private set; }

    /// <summary>Azurite's development account, reached through this proxy.</summary>
    public string ConnectionString =>
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
        $"QueueEndpoint=http://127.0.0.1:{Port}/devstoreaccount1;";

    public void Start()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync(_listener);
    }

    /// <summary>Everything recorded so far, as text (HTTP/1.1 with XML bodies).</summary>
    public string Text
    {
        get
        {
            lock (_recorded)
            {
                return Encoding.UTF8.GetString(_recorded.ToArray());
            }
        }
    }

    /// <summary>The text of every queue message that went through, sent or received (XML-unescaped).</summary>
    public IReadOnlyList<string> Messages() =>
        [.. MessageText().Matches(Text).Select(m => WebUtility.HtmlDecode(m.Groups[1].Value)).Distinct(StringComparer.Ordinal)];

    async Task AcceptAsync(TcpListener listener)
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ForwardAsync(client);
        }
    }

    async Task ForwardAsync(TcpClient client)
    {
        using (client)
        using (var upstream = new TcpClient())
        {
            try
            {
                await upstream.ConnectAsync(target, _stop.Token);
                var a = client.GetStream();
                var b = upstream.GetStream();
                await Task.WhenAny(PumpAsync(a, b), PumpAsync(b, a));
            }
            catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException or OperationCanceledException)
            {
            }
        }
    }

    async Task PumpAsync(Stream from, Stream to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, _stop.Token)) > 0)
            {
                lock (_recorded)
                {
                    _recorded.Write(buffer, 0, read);
                }

                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener?.Stop();
        await _accepting;
        _stop.Dispose();
    }

    [GeneratedRegex("<MessageText>([^<]*)</MessageText>")]
    private static partial Regex MessageText();
}
