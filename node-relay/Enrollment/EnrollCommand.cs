using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Automator67.Contracts.Nodes;
using Automator67.Hosting;
using Automator67.NodeRelay.Docker;

namespace Automator67.NodeRelay.Enrollment;

/// <summary>
/// <c>node-relay enroll --url URL --token T</c>: makes this host's key pair here (the private key never leaves it),
/// sends the public key and the host's facts with the one-time join token, and keeps what comes back.
/// </summary>
public sealed class EnrollCommand(DockerEngine docker, HttpClient http, TimeProvider time)
{
    public async Task<RelayState> RunAsync(Uri controlPlane, string token, string stateDirectory, CancellationToken ct)
    {
        if (RelayState.Load(stateDirectory) is { } existing)
        {
            throw new StartupException($"this relay is enrolled already, as node {existing.Name} ({existing.NodeId}); to enrol it again, delete {RelayState.PathIn(stateDirectory)} first.");
        }

        HostFacts facts;
        try
        {
            facts = await docker.ReadHostFactsAsync(ct);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or TimeoutException or System.Net.Sockets.SocketException or OperationCanceledException)
        {
            throw new StartupException($"cannot reach the Docker Engine ({ex.GetBaseException().Message}); start dockerd or set Relay__DockerEndpoint, then enrol again.");
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        // A second key pair for sealed secrets (ECDH): one key, one purpose.
        using var sealing = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var request = new EnrollRequest(token, Convert.ToBase64String(key.ExportSubjectPublicKeyInfo()), facts, Convert.ToBase64String(sealing.ExportSubjectPublicKeyInfo()));
        HttpResponseMessage response;
        try
        {
            response = await http.PostAsJsonAsync(new Uri(controlPlane, "/api/relay/enroll"), request, ct);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            throw new StartupException($"cannot reach the control plane at {controlPlane} ({ex.GetBaseException().Message}); check --url and that it is running.");
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new StartupException($"the control plane refused the enrolment: {await ProblemAsync(response, ct)}");
            }

            var enrolled = await response.Content.ReadFromJsonAsync<EnrollResponse>(JsonSerializerOptions.Web, ct)
                ?? throw new StartupException("the control plane answered the enrolment with an empty body.");
            var state = new RelayState(controlPlane, enrolled.NodeId, enrolled.Name, Convert.ToBase64String(key.ExportPkcs8PrivateKey()),
                enrolled.Queues, enrolled.CommandSigningKeys, enrolled.HeartbeatSeconds, time.GetUtcNow(),
                SealingPrivateKey: Convert.ToBase64String(sealing.ExportPkcs8PrivateKey()), SealingKeyRegisteredAt: time.GetUtcNow());
            state.Save(stateDirectory);
            return state;
        }
    }

    static async Task<string> ProblemAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var body = await response.Content.ReadAsStringAsync(ct);
        try
        {
            using var problem = JsonDocument.Parse(body);
            var root = problem.RootElement;
            if (root.TryGetProperty("errors", out var errors))
            {
                return string.Join(" ", errors.EnumerateObject().SelectMany(e => e.Value.EnumerateArray().Select(m => $"{e.Name}: {m.GetString()}")));
            }

            return root.TryGetProperty("detail", out var detail) ? detail.GetString() ?? $"{(int)response.StatusCode}" : $"{(int)response.StatusCode}";
        }
        catch (JsonException)
        {
            return $"{(int)response.StatusCode} {response.ReasonPhrase}";
        }
    }
}
