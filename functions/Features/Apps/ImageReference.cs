using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Automator67.Functions.Features.Apps;

/// <summary>
/// A Docker image reference, <c>[registry[:port]/]path[:tag][@sha256:digest]</c>, parsed by the grammar of
/// distribution/reference (the one the Docker Engine applies), so a reference we accept is one the relay can pull.
/// </summary>
/// <param name="Registry">Host and optional port, when the first path part names one (it holds '.' or ':', or is <c>localhost</c>).</param>
/// <param name="Path">Lower-case path components separated by '/'.</param>
/// <param name="Tag">Null when the reference has none.</param>
/// <param name="Digest"><c>sha256:</c> and 64 hex digits, or null.</param>
public sealed partial record ImageReference(string? Registry, string Path, string? Tag, string? Digest)
{
    /// <summary>Docker's bound on the name (registry and path).</summary>
    public const int MaxNameLength = 255;

    public const string DefaultTag = "latest";

    /// <summary>The reference as Docker would assume it: without tag and digest, Docker pulls <c>latest</c>.</summary>
    public ImageReference WithDefaultTag() => Tag is null && Digest is null ? this with { Tag = DefaultTag } : this;

    public override string ToString() =>
        (Registry is null ? "" : Registry + "/") + Path + (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    /// <summary>Parses <paramref name="text"/>; otherwise <paramref name="problem"/> says which part is wrong.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out ImageReference? reference, [NotNullWhen(false)] out string? problem)
    {
        reference = null;
        problem = Problem(text, out var registry, out var path, out var tag, out var digest);
        if (problem is null)
        {
            reference = new ImageReference(registry, path!, tag, digest);
        }

        return problem is null;
    }

    static string? Problem(string? text, out string? registry, out string? path, out string? tag, out string? digest)
    {
        registry = path = tag = digest = null;
        if (string.IsNullOrEmpty(text))
        {
            return "image is required, e.g. 127.0.0.1:5000/a67/sample:v1.";
        }

        if (text.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            return "image must not contain spaces or control characters.";
        }

        var name = text;
        if (name.IndexOf('@', StringComparison.Ordinal) is var at and >= 0)
        {
            digest = name[(at + 1)..];
            name = name[..at];
            if (!DigestPattern().IsMatch(digest))
            {
                return $"the digest '{Cut(digest)}' after '@' must be 'sha256:' and 64 lower-case hex digits.";
            }
        }

        // A ':' after the last '/' starts the tag; one before it belongs to the registry's port.
        if (name.LastIndexOf(':') is var colon and >= 0 && colon > name.LastIndexOf('/'))
        {
            tag = name[(colon + 1)..];
            name = name[..colon];
            if (!TagPattern().IsMatch(tag))
            {
                return $"the tag '{Cut(tag)}' must be 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'.";
            }
        }

        if (name.Length == 0)
        {
            return "image has no name before its tag or digest.";
        }

        if (name.Length > MaxNameLength)
        {
            return $"the image name (registry and path) must be at most {MaxNameLength} characters.";
        }

        var slash = name.IndexOf('/', StringComparison.Ordinal);
        var first = slash < 0 ? null : name[..slash];
        // Docker's rule for "is the first part a registry": it holds '.' or ':', is localhost, or has capitals.
        if (first is not null && (first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal)
            || first == "localhost" || first.Any(char.IsUpper)))
        {
            if (RegistryProblem(first) is { } registryProblem)
            {
                return registryProblem;
            }

            registry = first;
            name = name[(slash + 1)..];
        }

        foreach (var component in name.Split('/'))
        {
            if (component.Length == 0)
            {
                return $"the image path '{Cut(name)}' has an empty part (two '/' in a row, or one at an end).";
            }

            if (!PathComponentPattern().IsMatch(component))
            {
                return component.Any(char.IsUpper)
                    ? $"the image path part '{Cut(component)}' must be lower-case."
                    : $"the image path part '{Cut(component)}' must be lower-case letters and digits, separated by '.', '_', '__' or '-'.";
            }
        }

        path = name;
        return null;
    }

    static string? RegistryProblem(string registry)
    {
        string host = registry, port = "";
        if (registry.StartsWith('['))
        {
            var close = registry.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || !IPAddress.TryParse(registry[1..close], out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6)
            {
                return $"the registry '{Cut(registry)}' must be a host name, an IPv4 address or an IPv6 address in brackets, with an optional :port.";
            }

            host = registry[..(close + 1)];
            port = registry[(close + 1)..];
        }
        else if (registry.IndexOf(':', StringComparison.Ordinal) is var colon and >= 0)
        {
            host = registry[..colon];
            port = registry[colon..];
            if (!HostPattern().IsMatch(host))
            {
                return $"the registry host '{Cut(host)}' must be a host name (letters, digits, '-' and '.') or an IPv4 address.";
            }
        }
        else if (!HostPattern().IsMatch(host))
        {
            return $"the registry host '{Cut(host)}' must be a host name (letters, digits, '-' and '.') or an IPv4 address.";
        }

        if (port.Length > 0 && !(port[0] == ':' && int.TryParse(port.AsSpan(1), System.Globalization.NumberStyles.None, null, out var number) && number is >= 1 and <= 65535))
        {
            return $"the registry port '{Cut(port.TrimStart(':'))}' must be a number from 1 to 65535.";
        }

        return null;
    }

    static string Cut(string text) => text.Length > 80 ? text[..80] + "…" : text;

    [GeneratedRegex("^sha256:[a-f0-9]{64}$")]
    private static partial Regex DigestPattern();

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex TagPattern();

    // distribution/reference: alpha-numeric (separator alpha-numeric)*, separators '.', '_', '__' or one or more '-'.
    [GeneratedRegex("^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")]
    private static partial Regex PathComponentPattern();

    [GeneratedRegex("^(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])(?:\\.(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]))*$")]
    private static partial Regex HostPattern();
}
