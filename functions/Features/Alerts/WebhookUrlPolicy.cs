using System.Net;
using System.Net.Sockets;
using Automator67.Functions.Hosting;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Alerts;

/// <summary>
/// Where a webhook may point (SSRF). Checked twice: when the URL is stored (its form, and an IP literal or the
/// control plane's own address), and at every connection (<see cref="ConnectAsync"/>: every address the host name
/// resolves to, so a name that later resolves elsewhere — DNS rebinding — is refused too).
/// </summary>
public sealed class WebhookUrlPolicy(IOptions<AlertOptions> alertOptions, IOptions<ControlPlaneOptions> controlPlane)
{
    public const int MaxUrlLength = 2000;

    AlertOptions Options => alertOptions.Value;

    /// <summary>Why <paramref name="url"/> may not be a webhook, or null. <paramref name="requestHost"/> is the Host the caller reached us by.</summary>
    public string? Problem(string? url, HostString requestHost)
    {
        if (string.IsNullOrWhiteSpace(url))
        {
            return "A url is required, e.g. https://hooks.example.com/automator67.";
        }

        if (url.Length > MaxUrlLength)
        {
            return $"The url must have at most {MaxUrlLength} characters.";
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
        {
            return "The url must be an absolute http:// or https:// URL.";
        }

        if (uri.UserInfo.Length > 0)
        {
            return "The url must not carry a user name or password; put a secret in the path or rely on the signature.";
        }

        if (uri.Fragment.Length > 0)
        {
            return "The url must not have a fragment (#…).";
        }

        if (IsControlPlane(uri, requestHost))
        {
            return "The url points at this control plane itself; a webhook must go to another service.";
        }

        var host = uri.IdnHost.TrimStart('[').TrimEnd(']');
        if (IPAddress.TryParse(host, out var address) && AddressProblem(address) is { } problem)
        {
            return problem;
        }

        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase) && !Options.AllowPrivateNetworks)
        {
            return "The url points at a loopback address, which Alerts__AllowPrivateNetworks does not allow here.";
        }

        return null;
    }

    /// <summary>Why a connection to <paramref name="address"/> is refused, or null.</summary>
    public string? AddressProblem(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        var bytes = address.GetAddressBytes();
        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast)
            || (address.AddressFamily == AddressFamily.InterNetwork && (bytes[0] == 0 || bytes[0] >= 224))
            || address.IsIPv6Multicast)
        {
            return $"The url points at {address}, which is not a unicast address.";
        }

        if ((address.AddressFamily == AddressFamily.InterNetwork && bytes[0] == 169 && bytes[1] == 254) || address.IsIPv6LinkLocal)
        {
            return $"The url points at the link-local address {address} (where cloud metadata services live), which is never allowed.";
        }

        if (!Options.AllowPrivateNetworks && (IPAddress.IsLoopback(address) || IsPrivate(address, bytes)))
        {
            return $"The url points at the loopback or private address {address}, which Alerts__AllowPrivateNetworks does not allow here.";
        }

        return null;
    }

    /// <summary>
    /// Opens the connection for one delivery: resolves the host, refuses any address the policy refuses (and the control
    /// plane's own port on this machine), and connects to the first address left.
    /// </summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var endpoint = context.DnsEndPoint;
        var addresses = IPAddress.TryParse(endpoint.Host.TrimStart('[').TrimEnd(']'), out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(endpoint.Host, ct);
        foreach (var address in addresses)
        {
            if (AddressProblem(address) is { } problem)
            {
                throw new WebhookRefusedException(problem);
            }

            if (IsOwnEndpoint(address, endpoint.Port))
            {
                throw new WebhookRefusedException($"{endpoint.Host}:{endpoint.Port} is this control plane itself.");
            }
        }

        if (addresses.Length == 0)
        {
            throw new WebhookRefusedException($"{endpoint.Host} has no address.");
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, endpoint.Port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    bool IsControlPlane(Uri uri, HostString requestHost)
    {
        if (requestHost.HasValue && SameAuthority(uri, requestHost.Host, requestHost.Port ?? (uri.Scheme == "https" ? 443 : 80)))
        {
            return true;
        }

        if (Options.PublicUrl.Length > 0 && Uri.TryCreate(Options.PublicUrl, UriKind.Absolute, out var publicUrl)
            && SameAuthority(uri, publicUrl.IdnHost, publicUrl.Port))
        {
            return true;
        }

        var host = uri.IdnHost.TrimStart('[').TrimEnd(']');
        var address = host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback : IPAddress.TryParse(host, out var parsed) ? parsed : null;
        return address is not null && IsOwnEndpoint(address, uri.Port);
    }

    /// <summary>This machine's control-plane port: on loopback, on its bind address, or on any address when it binds all.</summary>
    bool IsOwnEndpoint(IPAddress address, int port)
    {
        var options = controlPlane.Value;
        if (port != options.Port)
        {
            return false;
        }

        if (IPAddress.IsLoopback(address))
        {
            return true;
        }

        if (!IPAddress.TryParse(options.BindAddress, out var bind))
        {
            return false;
        }

        return bind.Equals(address) || ((bind.Equals(IPAddress.Any) || bind.Equals(IPAddress.IPv6Any)) && LocalAddresses.Value.Contains(address));
    }

    // This machine's own addresses (a control plane bound to all of them answers on each).
    static readonly Lazy<HashSet<IPAddress>> LocalAddresses = new(() =>
    [
        .. System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(i => i.GetIPProperties().UnicastAddresses).Select(a => a.Address),
    ]);

    static bool SameAuthority(Uri uri, string host, int port) =>
        string.Equals(uri.IdnHost.TrimStart('[').TrimEnd(']'), host.TrimStart('[').TrimEnd(']'), StringComparison.OrdinalIgnoreCase) && uri.Port == port;

    static bool IsPrivate(IPAddress address, byte[] bytes) => address.AddressFamily == AddressFamily.InterNetwork
        ? bytes[0] == 10 || (bytes[0] == 172 && bytes[1] is >= 16 and <= 31) || (bytes[0] == 192 && bytes[1] == 168) || (bytes[0] == 100 && bytes[1] is >= 64 and <= 127)
        : (bytes[0] & 0xFE) == 0xFC || address.IsIPv6SiteLocal;
}

/// <summary>A delivery's connection refused by <see cref="WebhookUrlPolicy"/>: recorded as the attempt's error.</summary>
public sealed class WebhookRefusedException(string message) : Exception(message);
