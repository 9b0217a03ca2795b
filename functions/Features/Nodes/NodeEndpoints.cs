using System.Security.Cryptography;
using Automator67.Contracts.Nodes;
using Automator67.Functions.Features.Audit;
using Automator67.Functions.Features.Auth.Abuse;
using Automator67.Functions.Features.Auth.Authentication;
using Automator67.Functions.Labels;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automator67.Functions.Features.Nodes;

/// <summary>The account's Docker hosts: <c>/api/nodes</c>, and the relay's enrolment: <c>/api/relay/enroll</c>.</summary>
public static class NodeEndpoints
{
    public static RouteGroupBuilder MapNodes(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/api/relay/enroll", Enroll).WithTags("Relay").RequireRateLimiting(AuthRateLimits.Login);
        routes.MapPost("/api/relay/credentials", CredentialRenewalEndpoint.Renew).WithTags("Relay").RequireRateLimiting(AuthRateLimits.Login);

        var group = routes.MapGroup("/api/nodes").WithTags("Nodes");
        group.MapPost("/join-tokens", CreateJoinToken).RequireAuthorization(ScopePolicies.Deploy);
        group.MapGet("/", List).RequireAuthorization(ScopePolicies.Read);
        group.MapGet("/{id:guid}", Get).RequireAuthorization(ScopePolicies.Read);
        group.MapPatch("/{id:guid}", Patch).RequireAuthorization(ScopePolicies.Deploy);
        group.MapPost("/{id:guid}/drain", Drain).RequireAuthorization(ScopePolicies.Deploy);
        group.MapDelete("/{id:guid}", Delete).RequireAuthorization(ScopePolicies.Deploy);
        return group;
    }

    static async Task<Results<Created<JoinTokenResponse>, ValidationProblem>> CreateJoinToken(
        JoinTokenRequest request, CurrentUser user, NodeStore nodes, IOptions<NodeOptions> options, HttpContext http, CancellationToken ct)
    {
        var problems = Problems(("name", NodeValidation.NameProblem(request.Name)), ("labels", LabelRules.LabelsProblem(request.Labels)),
            ("expiresInMinutes", request.ExpiresInMinutes is < 1 or > 10080 ? "expiresInMinutes must be between 1 and 10080 (7 days)." : null));
        if (problems.Count > 0)
        {
            return TypedResults.ValidationProblem(problems);
        }

        var labels = request.Labels ?? [];
        var lifetime = request.ExpiresInMinutes is { } minutes ? TimeSpan.FromMinutes(minutes) : (TimeSpan?)null;
        var (token, expires) = await nodes.CreateJoinTokenAsync(user.AccountId, request.Name, labels, lifetime,
            AuditEvent.From(http, AuditTypes.JoinTokenCreated, user.AccountId, user.AccountId), ct);
        http.Response.Headers.CacheControl = "no-store";
        var url = $"{http.Request.Scheme}://{http.Request.Host}";
        return TypedResults.Created("/api/nodes", new JoinTokenResponse(token, expires, request.Name, labels, $"node-relay enroll --url {url} --token {token}"));
    }

    /// <param name="user">The caller.</param>
    /// <param name="nodes">The node store.</param>
    /// <param name="options">Node settings.</param>
    /// <param name="time">The clock.</param>
    /// <param name="status">Only nodes in this status (Pending, Ready, Degraded, Unreachable, Draining).</param>
    /// <param name="label">Only nodes with this label, as <c>key=value</c> (or <c>key</c> for any value).</param>
    /// <param name="ct">Request aborted.</param>
    static async Task<Results<Ok<NodeView[]>, ValidationProblem>> List(
        CurrentUser user, NodeStore nodes, IOptions<NodeOptions> options, TimeProvider time, string? status, string? label, CancellationToken ct)
    {
        if (status is not null && !NodeStatuses.All.Contains(status, StringComparer.OrdinalIgnoreCase))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["status"] = [$"status must be one of {string.Join(", ", NodeStatuses.All)}."] });
        }

        var (labelKey, labelValue) = label?.Split('=', 2) is [var key, var value] ? (key, value) : (label, null);
        var views = (await nodes.ListAsync(user.AccountId, ct)).Select(n => View(n, options.Value, time))
            .Where(v => status is null || string.Equals(v.Status, status, StringComparison.OrdinalIgnoreCase))
            .Where(v => labelKey is null || (v.Labels.TryGetValue(labelKey, out var has) && (labelValue is null || has == labelValue)))
            .ToArray();
        return TypedResults.Ok(views);
    }

    /// <summary>One node, with its command-path latency and the labelled containers of its latest heartbeat.</summary>
    static async Task<Results<Ok<NodeView>, NotFound>> Get(Guid id, CurrentUser user, NodeStore nodes, IOptions<NodeOptions> options, TimeProvider time, CancellationToken ct)
    {
        if (await nodes.FindAsync(user.AccountId, id, ct) is not { } node)
        {
            return TypedResults.NotFound();
        }

        var inventory = await nodes.FindInventoryAsync(user.AccountId, id, ct);
        return TypedResults.Ok(View(node, options.Value, time) with { Containers = inventory?.Containers ?? [] });
    }

    static async Task<Results<Ok<NodeView>, NotFound, ValidationProblem, ProblemHttpResult>> Patch(
        Guid id, NodePatchRequest request, CurrentUser user, NodeStore nodes, IOptions<NodeOptions> options, TimeProvider time, CancellationToken ct)
    {
        var problems = Problems(("name", NodeValidation.NameProblem(request.Name)), ("labels", LabelRules.LabelsProblem(request.Labels)),
            ("lostAfterSeconds", request.LostAfterSeconds is { } grace && grace != 0 && grace is < 10 or > 86400
                ? "lostAfterSeconds must be between 10 and 86400 (0 goes back to the Nodes__LostAfter setting)." : null),
            ("body", request.Name is null && request.Labels is null && request.LostAfterSeconds is null ? "Send name, labels, lostAfterSeconds or several." : null));
        if (problems.Count > 0)
        {
            return TypedResults.ValidationProblem(problems);
        }

        try
        {
            return await nodes.UpdateAsync(user.AccountId, id, request.Name, request.Labels, draining: null, ct, request.LostAfterSeconds) is { } node
                ? TypedResults.Ok(View(node, options.Value, time))
                : TypedResults.NotFound();
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return TypedResults.Problem(statusCode: 409, title: "Name taken", detail: $"Another of your nodes is called '{request.Name}'.");
        }
    }

    /// <summary>Marks the node unschedulable: it takes no new replicas (moving its current ones is a drain operation's work).</summary>
    static async Task<Results<Ok<NodeView>, NotFound>> Drain(Guid id, CurrentUser user, NodeStore nodes, AuditLog audit, IOptions<NodeOptions> options,
        TimeProvider time, HttpContext http, CancellationToken ct)
    {
        if (await nodes.UpdateAsync(user.AccountId, id, null, null, draining: true, ct) is not { } node)
        {
            return TypedResults.NotFound();
        }

        await audit.WriteAsync(AuditEvent.From(http, AuditTypes.NodeDraining, user.AccountId, user.AccountId, new Dictionary<string, object?> { ["nodeId"] = id }), ct);
        return TypedResults.Ok(View(node, options.Value, time));
    }

    /// <summary>Forgets the node and revokes its credentials at once (its command queue is deleted).</summary>
    static async Task<Results<NoContent, NotFound>> Delete(Guid id, CurrentUser user, NodeStore nodes, QueueCredentialIssuer credentials, HttpContext http, CancellationToken ct)
    {
        if (!await nodes.DeleteAsync(user.AccountId, id, AuditEvent.From(http, AuditTypes.NodeDeleted, user.AccountId, user.AccountId), ct))
        {
            return TypedResults.NotFound();
        }

        await credentials.RevokeAsync(id, ct);
        return TypedResults.NoContent();
    }

    static async Task<Results<Created<EnrollResponse>, ValidationProblem, ProblemHttpResult>> Enroll(
        EnrollRequest request, NodeStore nodes, QueueCredentialIssuer credentials, CommandSigningKeys commandKeys, IOptions<NodeOptions> options,
        AuditLog audit, TimeProvider time, HttpContext http, CancellationToken ct)
    {
        var publicKey = PublicKeyProblem(request.PublicKey, out var keyProblem);
        var sealingKey = request.SealingKey is null ? null : SealingKeyOf(request.SealingKey);
        var problems = Problems(("token", string.IsNullOrEmpty(request.Token) ? "A join token is required." : null), ("publicKey", keyProblem),
            ("facts", FactsProblem(request.Facts)), ("sealingKey", request.SealingKey is not null && sealingKey is null ? SealingKeyProblem : null));
        if (problems.Count > 0)
        {
            return TypedResults.ValidationProblem(problems);
        }

        NodeQueueCredentials? issued = null;
        var expires = time.GetUtcNow() + options.Value.CredentialLifetime;
        var outcome = await nodes.EnrollAsync(request.Token!, publicKey!, sealingKey, request.Facts!, expires,
            async nodeId => issued = await credentials.IssueAsync(nodeId, expires, ct), AuditEvent.From(http, AuditTypes.NodeEnrolled, null, null), ct);
        if (outcome is EnrollOutcome.Refused refused)
        {
            await audit.WriteAsync(AuditEvent.From(http, AuditTypes.NodeEnrollRefused, null, null, new Dictionary<string, object?> { ["reason"] = refused.Reason }), ct);
            return TypedResults.Problem(statusCode: 401, title: "Enrolment refused", detail: $"{char.ToUpperInvariant(refused.Reason[0])}{refused.Reason[1..]}.");
        }

        var node = ((EnrollOutcome.Enrolled)outcome).Node;
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Created($"/api/nodes/{node.Id}", new EnrollResponse(node.Id, node.Name, issued!, commandKeys.PublicKeys, (int)options.Value.HeartbeatInterval.TotalSeconds));
    }

    static NodeView View(Node node, NodeOptions options, TimeProvider time)
    {
        var now = time.GetUtcNow();
        var path = node.CommandPath;
        // Heartbeats prove the relay runs; only answered pings prove it consumes commands (a known failure of peers).
        var status = node.Draining ? NodeStatuses.Draining
            : node.LastHeartbeatAt is not { } beat ? NodeStatuses.Pending
            : node.Silence.LostAt is { } lost && beat <= lost ? NodeStatuses.Lost
            : now - beat > 3 * options.HeartbeatInterval ? NodeStatuses.Unreachable
            : path.PingOutstandingSince is { } since && now - since > 2 * options.PingInterval ? NodeStatuses.Degraded
            : NodeStatuses.Ready;
        return new NodeView(node.Id, node.Name, status, node.Labels, node.Draining, node.Facts, new NodeCapacity(node.Facts.Cpus, node.Facts.MemoryBytes),
            node.EnrolledAt, node.LastHeartbeatAt, node.CredentialExpiresAt, new NodeCommandPathView(path.LastPingSentAt, path.LastPingOkAt, path.LatencyMs), null,
            new NodeSilenceView(node.Silence.UnreachableAt, node.Silence.LostAt, node.Silence.LostAfterSeconds ?? (int)options.LostAfter.TotalSeconds,
                node.Silence.LostAfterSeconds is null));
    }

    static byte[]? PublicKeyProblem(string? publicKey, out string? problem)
    {
        problem = null;
        try
        {
            var bytes = Convert.FromBase64String(publicKey ?? "");
            using var key = ECDsa.Create();
            key.ImportSubjectPublicKeyInfo(bytes, out _);
            if (key.KeySize == 256)
            {
                return bytes;
            }
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException)
        {
        }

        problem = "publicKey must be an EC P-256 public key (SubjectPublicKeyInfo, base64).";
        return null;
    }

    public const string SealingKeyProblem = "sealingKey must be an EC P-256 public key for ECDH (SubjectPublicKeyInfo, base64).";

    /// <summary>The sealing key's bytes when it is an EC P-256 public key; null otherwise.</summary>
    public static byte[]? SealingKeyOf(string sealingKey)
    {
        try
        {
            var bytes = Convert.FromBase64String(sealingKey);
            using var key = ECDiffieHellman.Create();
            key.ImportSubjectPublicKeyInfo(bytes, out var read);
            return key.KeySize == 256 && read == bytes.Length ? bytes : null;
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException)
        {
            return null;
        }
    }

    static string? FactsProblem(HostFacts? facts) => facts switch
    {
        null => "The host's facts are required.",
        { Cpus: < 1 or > 4096 } => "facts.cpus must be between 1 and 4096.",
        { MemoryBytes: < 1 } => "facts.memoryBytes must be positive.",
        _ when new[] { facts.Hostname, facts.OperatingSystem, facts.Architecture, facts.DockerVersion, facts.DockerApiVersion }
            .Any(f => string.IsNullOrWhiteSpace(f) || f.Length > 200 || f.Any(char.IsControl)) => "facts: hostname, operatingSystem, architecture, dockerVersion and dockerApiVersion are 1-200 printable characters.",
        _ => null,
    };

    static Dictionary<string, string[]> Problems(params (string Field, string? Problem)[] problems) =>
        problems.Where(p => p.Problem is not null).ToDictionary(p => p.Field, p => new[] { p.Problem! });
}
