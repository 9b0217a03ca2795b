using System.Net;
using Automator67.Functions.Features.Auth.Authentication;
using Microsoft.AspNetCore.Authentication;

namespace Automator67.Functions.Features.Metrics;

/// <summary>
/// <c>GET /metrics</c>: <see cref="ControlPlaneMetrics"/> for the instance admin (bearer token, a personal access token
/// with the admin scope) or a client on this machine. A request that came through a proxy (it carries
/// <c>Forwarded</c>, <c>X-Forwarded-For</c> or <c>X-Real-IP</c>) is never taken as local, even from a loopback address:
/// the app trusts no forwarding headers, and a proxy on this machine would otherwise hand the endpoint to anyone.
/// </summary>
public static class PrometheusEndpoint
{
    public const string Path = "/metrics";
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    static readonly string[] ForwardingHeaders = ["Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-IP"];

    public static IEndpointRouteBuilder MapPrometheus(this IEndpointRouteBuilder routes)
    {
        routes.MapGet(Path, ScrapeAsync).ExcludeFromDescription();
        return routes;
    }

    static async Task<IResult> ScrapeAsync(HttpContext http, ControlPlaneMetrics metrics, CancellationToken ct)
    {
        if (!IsLocal(http) && !await IsAdminAsync(http))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden",
                detail: "/metrics is for the instance admin (an admin's bearer token) or a client on this machine that does not come through a proxy.");
        }

        return TypedResults.Bytes(await metrics.ScrapeAsync(ct), ContentType);
    }

    public static bool IsLocal(HttpContext http) =>
        http.Connection.RemoteIpAddress is { } address && IPAddress.IsLoopback(address)
        && !ForwardingHeaders.Any(h => http.Request.Headers.ContainsKey(h));

    static async Task<bool> IsAdminAsync(HttpContext http)
    {
        var result = await http.AuthenticateAsync(BearerAuthenticationHandler.SchemeName);
        return result.Succeeded && CurrentUser.From(result.Principal!) is { IsAdmin: true } admin && admin.HasScope(TokenScopes.Admin);
    }
}
