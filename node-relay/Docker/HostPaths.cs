namespace Automator67.NodeRelay.Docker;

/// <summary>
/// Host paths as the kernel will see them when it mounts one: every symbolic link followed, so a link inside an
/// allowed folder cannot smuggle in a path outside it (the Docker socket above all).
/// </summary>
public static class HostPaths
{
    /// <summary>The path with "." and ".." removed and each symbolic link replaced by its target; missing parts are kept as written.</summary>
    public static string Resolve(string path)
    {
        var pending = new Queue<string>(Path.GetFullPath(path).Split('/', StringSplitOptions.RemoveEmptyEntries));
        var resolved = "/";
        for (var links = 0; pending.Count > 0;)
        {
            var next = Path.Combine(resolved, pending.Dequeue());
            var info = new FileInfo(next);
            if (info.LinkTarget is { } target && ++links <= 40)
            {
                // Start again from the link's target, then walk what was left after the link.
                var rest = pending.ToList();
                var full = Path.GetFullPath(target, resolved);
                pending = new Queue<string>(full.Split('/', StringSplitOptions.RemoveEmptyEntries).Concat(rest));
                resolved = "/";
                continue;
            }

            resolved = next;
        }

        return resolved;
    }

    public static bool IsSameOrBelow(string path, string root) =>
        path == root || path.StartsWith(root.EndsWith('/') ? root : root + "/", StringComparison.Ordinal);

    /// <summary>Where the Docker socket may be: the usual places and the relay's own endpoint, resolved.</summary>
    public static IEnumerable<string> DockerSockets(string dockerEndpoint)
    {
        var sockets = new List<string> { "/var/run/docker.sock", "/run/docker.sock" };
        if (Uri.TryCreate(dockerEndpoint, UriKind.Absolute, out var uri) && uri.Scheme == "unix")
        {
            sockets.Add(uri.LocalPath);
        }

        return sockets.Select(Resolve).Distinct();
    }
}
