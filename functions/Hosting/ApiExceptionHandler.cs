using Microsoft.AspNetCore.Diagnostics;
using Npgsql;

namespace Automator67.Functions.Hosting;

/// <summary>
/// The one place exceptions become problem details. A malformed request (bad JSON, wrong content type, body too large)
/// is the client's error and says what was wrong; anything else is logged and answered with a 500 that names the
/// request id and nothing internal.
/// </summary>
public sealed partial class ApiExceptionHandler(IProblemDetailsService problems, ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, detail) = exception switch
        {
            BadHttpRequestException bad => (bad.StatusCode, "Bad request", bad.Message),
            NpgsqlException { IsTransient: true } => (StatusCodes.Status503ServiceUnavailable, "Database unavailable", "The database cannot be reached right now; try again shortly."),
            _ => (StatusCodes.Status500InternalServerError, "Internal error", $"The server failed to handle request {httpContext.TraceIdentifier}; the log has the details."),
        };
        if (status == StatusCodes.Status503ServiceUnavailable)
        {
            httpContext.Response.Headers.RetryAfter = "5";
        }
        else if (status >= 500)
        {
            LogUnhandled(exception, httpContext.Request.Method, httpContext.Request.Path);
        }

        httpContext.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });
    }

    [LoggerMessage(EventId = 1100, Level = LogLevel.Error, Message = "Unhandled exception for {Method} {Path}")]
    partial void LogUnhandled(Exception exception, string method, string path);
}
