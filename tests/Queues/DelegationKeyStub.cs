using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Automator67.Tests.Infrastructure;

namespace Automator67.Tests.Queues;

/// <summary>
/// Answers Get User Delegation Key in Azurite's place, with the body Azure Storage returns: Azurite 3.37's queue service
/// doesn't have the operation (it answers 400 with no body; see QueueCredentialIssuerTests). Every other request goes to
/// Azurite. The SDK builds the request and parses this answer as it would Azure's.
/// </summary>
public sealed class DelegationKeyStub
{
    readonly List<(DateTimeOffset? Start, DateTimeOffset Expiry)> _requests = [];

    public byte[] KeyValue { get; } = RandomNumberGenerator.GetBytes(32);

    /// <summary>The Start (absent: null) and Expiry of each key requested.</summary>
    public IReadOnlyList<(DateTimeOffset? Start, DateTimeOffset Expiry)> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    public async Task<HttpResponseMessage?> AnswerAsync(HttpRequestMessage request)
    {
        if (request.RequestUri?.Query.Contains("comp=userdelegationkey", StringComparison.Ordinal) != true)
        {
            return null;
        }

        var keyInfo = XDocument.Parse(await request.Content!.ReadAsStringAsync()).Root!;
        var start = keyInfo.Element("Start")?.Value is { } s ? DateTimeOffset.Parse(s, CultureInfo.InvariantCulture) : (DateTimeOffset?)null;
        var expiry = DateTimeOffset.Parse(keyInfo.Element("Expiry")!.Value, CultureInfo.InvariantCulture);
        lock (_requests)
        {
            _requests.Add((start, expiry));
        }

        var version = request.Headers.GetValues("x-ms-version").Single();
        var body = new XDocument(new XElement("UserDelegationKey",
            new XElement("SignedOid", AzuriteTokenCredential.ObjectId),
            new XElement("SignedTid", AzuriteTokenCredential.TenantId),
            new XElement("SignedStart", Iso(start ?? DateTimeOffset.UtcNow)),
            new XElement("SignedExpiry", Iso(expiry)),
            new XElement("SignedService", "q"),
            new XElement("SignedVersion", version),
            new XElement("Value", Convert.ToBase64String(KeyValue))));
        return new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StringContent(body.Declaration + body.ToString(SaveOptions.DisableFormatting), Encoding.UTF8, "application/xml"),
        };
    }

    static string Iso(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
}
