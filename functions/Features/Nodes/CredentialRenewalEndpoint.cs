using System.Security.Cryptography;
using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.Functions.Features.Audit;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.Nodes;

/// <summary>
/// <c>POST /api/relay/credentials</c>: a relay trades a request signed with its node key for fresh queue credentials
/// (same scopes, new expiry) and the command-signing keys in use now. No bearer token: the signature is the proof.
/// A request more than <see cref="MaxSkew"/> from our clock, not newer than the node's last renewal (a replay), for
/// an unknown or deleted node, or with a bad signature answers 401 and is audited.
/// </summary>
public static class CredentialRenewalEndpoint
{
    public static readonly TimeSpan MaxSkew = TimeSpan.FromMinutes(5);

    public static async Task<Results<Ok<RenewCredentialsResponse>, ValidationProblem, ProblemHttpResult>> Renew(
        RenewCredentialsRequest request, NodeStore nodes, QueueCredentialIssuer credentials, CommandSigningKeys commandKeys, IOptions<NodeOptions> options,
        AuditLog audit, TimeProvider time, HttpContext http, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(request.Jws) || Jws.PeekKid(request.Jws) is not { } kid)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["jws"] = [$"jws must be a compact JWS (header.payload.signature, at most {Jws.MaxLength} characters) with the node id as its kid."],
            });
        }

        if (!Guid.TryParse(kid, out var nodeId) || await nodes.FindEnrolledAsync(nodeId, ct) is not { } node)
        {
            return await RefuseAsync(null, kid, "the node is unknown or has been deleted");
        }

        using var key = ECDsa.Create();
        key.ImportSubjectPublicKeyInfo(node.PublicKey, out _);
        var (payload, _, problem) = Jws.Verify(request.Jws, MessageTypes.Renew, k => k == kid ? key : null);
        if (problem is not null)
        {
            return await RefuseAsync(node.AccountId, kid, problem);
        }

        CredentialRenewal? renewal;
        try
        {
            renewal = JsonSerializer.Deserialize(payload, RelayJsonContext.Default.CredentialRenewal);
        }
        catch (JsonException)
        {
            renewal = null;
        }

        if (renewal is null || renewal.NodeId != nodeId)
        {
            return await RefuseAsync(node.AccountId, kid, "the signed request must be {nodeId, requestedAt} naming the signing node");
        }

        // Vouched for by the node's signature: the key that secrets are sealed to from now on.
        var sealingKey = renewal.SealingKey is null ? null : NodeEndpoints.SealingKeyOf(renewal.SealingKey);
        if (renewal.SealingKey is not null && sealingKey is null)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["sealingKey"] = [NodeEndpoints.SealingKeyProblem] });
        }

        var now = time.GetUtcNow();
        if ((renewal.RequestedAt - now).Duration() > MaxSkew)
        {
            return await RefuseAsync(node.AccountId, kid, "requestedAt is more than 5 minutes from the control plane's clock");
        }

        Contracts.Nodes.NodeQueueCredentials? issued = null;
        var expires = now + options.Value.CredentialLifetime;
        if (!await nodes.RenewCredentialsAsync(nodeId, renewal.RequestedAt, expires, sealingKey, async () => issued = await credentials.IssueAsync(nodeId, expires, ct),
            AuditEvent.From(http, AuditTypes.NodeCredentialsRenewed, node.AccountId, null), ct))
        {
            return await RefuseAsync(node.AccountId, kid, "the request is not newer than the node's last renewal, or the node has been deleted");
        }

        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Ok(new RenewCredentialsResponse(issued!, commandKeys.PublicKeys));

        async Task<ProblemHttpResult> RefuseAsync(Guid? accountId, string claimedNode, string reason)
        {
            await audit.WriteAsync(AuditEvent.From(http, AuditTypes.NodeCredentialsRefused, accountId, null, new Dictionary<string, object?>
            {
                ["nodeId"] = new string([.. claimedNode.Where(c => !char.IsControl(c)).Take(64)]),
                ["reason"] = reason,
            }), ct);
            return TypedResults.Problem(statusCode: 401, title: "Renewal refused", detail: $"{char.ToUpperInvariant(reason[0])}{reason[1..]}.");
        }
    }
}
