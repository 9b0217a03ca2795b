using Microsoft.AspNetCore.Diagnostics;
using System.Text.Json;
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
        // A body that is not the JSON we expect: name the field, as a validation problem.
        if (exception is BadHttpRequestException { InnerException: JsonException json })
        {
            httpContext.Response.StatusCode = StatusCodes.Status400BadRequest;
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = httpContext,
                ProblemDetails = new HttpValidationProblemDetails(new Dictionary<string, string[]> { [FieldName(json.Path)] = [JsonProblem(json)] })
                {
                    Status = StatusCodes.Status400BadRequest,
                    Title = "The request body is not valid",
                },
            });
        }

        var (status, title, detail) = exception switch
        {
            BadHttpRequestException bad => (bad.StatusCode, "Bad request", bad.Message),
            NpgsqlException { IsTransient: true } => (StatusCodes.Status503ServiceUnavailable, "Database unavailable", "The database cannot be reached right now; try again shortly."),
            // Never a fallback to clear text: a secret is not written or read until the key-encryption key is back.
            Features.Secrets.KeyUnavailableException => (StatusCodes.Status503ServiceUnavailable, "Secret key unavailable",
                "The key-encryption key for secrets cannot be read right now (the log says why); try again shortly."),
            _ => (StatusCodes.Status500InternalServerError, "Internal error", $"The server failed to handle request {httpContext.TraceIdentifier}; the log has the details."),
        };
        if (status == StatusCodes.Status503ServiceUnavailable)
        {
            httpContext.Response.Headers.RetryAfter = "5";
            if (exception is Features.Secrets.KeyUnavailableException)
            {
                LogKeyUnavailable(exception.Message, httpContext.Request.Method, httpContext.Request.Path);
            }
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

    // "$.email" → "email"; "$" or nothing → "body".
    static string FieldName(string? path) => path is null or "$" ? "body" : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path;

    static string JsonProblem(JsonException json) =>
        json.Message.Contains("could not be mapped", StringComparison.Ordinal) ? "This field is not part of the request."
        : json.Message.Contains("could not be converted", StringComparison.Ordinal) ? "This field has the wrong type."
        : "The body is not valid JSON here.";

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "Secrets' key unavailable for {Method} {Path}: {Reason}")]
    partial void LogKeyUnavailable(string reason, string method, string path);

    [LoggerMessage(EventId = 1100, Level = LogLevel.Error, Message = "Unhandled exception for {Method} {Path}")]
    partial void LogUnhandled(Exception exception, string method, string path);
}
