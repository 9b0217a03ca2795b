using System.Security.Cryptography;
using Automator67.Contracts.Nodes;
using Automator67.NodeRelay;
using Automator67.NodeRelay.Enrollment;
using Automator67.NodeRelay.Run;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Automator67.Tests.NodeRelay;

/// <summary>The relay's parts built without processes or queues, for the tests that need no Engine or Azurite.</summary>
static class RelayUnits
{
    static readonly HttpClient Http = new();

    public static RelayState State(Guid? nodeId = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var queue = new Uri("http://127.0.0.1:10001/devstoreaccount1/unused?sig=x");
        return new RelayState(new Uri("http://127.0.0.1:7071"), nodeId ?? Guid.NewGuid(), "unit", Convert.ToBase64String(key.ExportPkcs8PrivateKey()),
            new NodeQueueCredentials(queue, queue, DateTimeOffset.UtcNow.AddDays(1)), [], 10, DateTimeOffset.UtcNow);
    }

    public static EventSender Events(RelayIdentity identity, TimeProvider time)
    {
        var queues = new RelayQueues(identity);
        return new(identity, queues, new CredentialRenewer(identity, queues, Options(), Http, time, NullLogger<CredentialRenewer>.Instance), time,
            NullLogger<EventSender>.Instance);
    }


    public static IOptions<RelayOptions> Options(Action<RelayOptions>? change = null)
    {
        var options = new RelayOptions();
        change?.Invoke(options);
        return Microsoft.Extensions.Options.Options.Create(options);
    }
}
