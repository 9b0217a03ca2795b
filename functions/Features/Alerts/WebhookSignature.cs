using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Automator67.Functions.Features.Alerts;

/// <summary>
/// How a delivery proves it comes from this control plane: <c>X-Automator67-Signature: sha256=&lt;hex&gt;</c>, the
/// HMAC-SHA256 under the webhook's secret (its UTF-8 bytes, prefix included) of <c>"&lt;timestamp&gt;.&lt;body&gt;"</c>,
/// where the timestamp is <c>X-Automator67-Timestamp</c> (Unix seconds of this attempt). Signing the timestamp lets a
/// receiver refuse replays of an old delivery. docs/alerts.md shows how to verify.
/// </summary>
public static class WebhookSignature
{
    public const string SignatureHeader = "X-Automator67-Signature";
    public const string TimestampHeader = "X-Automator67-Timestamp";
    public const string DeliveryHeader = "X-Automator67-Delivery";
    public const string Scheme = "sha256=";

    public static string Sign(string secret, long timestamp, string body)
    {
        var signed = Encoding.UTF8.GetBytes(timestamp.ToString(CultureInfo.InvariantCulture) + "." + body);
        return Scheme + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed));
    }
}
