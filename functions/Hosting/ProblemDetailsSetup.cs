namespace Automator67.Functions.Hosting;

static class ProblemDetailsSetup
{
    public const string RequestIdHeader = "X-Request-Id";

    /// <summary>Every error is RFC 7807 problem details carrying the request id, so a user can quote it and we can find the log.</summary>
    public static IServiceCollection AddApiProblemDetails(this IServiceCollection services)
    {
        services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            context.ProblemDetails.Instance ??= context.HttpContext.Request.Path;
            context.ProblemDetails.Extensions["requestId"] = context.HttpContext.TraceIdentifier;
        });
        services.AddExceptionHandler<ApiExceptionHandler>();
        return services;
    }

    /// <summary>Echoes the request id on every response.</summary>
    public static IApplicationBuilder UseRequestId(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        context.Response.Headers[RequestIdHeader] = context.TraceIdentifier;
        return next(context);
    });
}
