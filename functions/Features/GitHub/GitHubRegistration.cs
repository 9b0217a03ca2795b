using Automator67.Hosting;
using Microsoft.Extensions.Options;

namespace Automator67.Functions.Features.GitHub;

public static class GitHubRegistration
{
    /// <summary>Largest answer read from GitHub; its user and email documents are a few kilobytes.</summary>
    const long MaxAnswerBytes = 256 * 1024;

    public static IServiceCollection AddGitHubSignIn(this IServiceCollection services)
    {
        services.AddSettings<GitHubOptions>(GitHubOptions.Section);
        services.AddSingleton<GitHubFlowStore>();
        services.AddSingleton<ExternalLoginStore>();
        var client = services.AddHttpClient<GitHubClient>((provider, http) =>
        {
            http.Timeout = provider.GetRequiredService<IOptions<GitHubOptions>>().Value.Timeout;
            http.MaxResponseContentBufferSize = MaxAnswerBytes;
            // GitHub's API refuses requests without a User-Agent.
            http.DefaultRequestHeaders.UserAgent.ParseAdd("Automator67");
        });
        // Four framework lines per call add nothing to the request's own log; GitHubClient logs its failures.
        client.RemoveAllLoggers();
        return services;
    }
}
