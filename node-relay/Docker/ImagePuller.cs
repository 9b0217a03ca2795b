using System.Net;
using System.Text.Json;
using Automator67.Contracts.Relay;
using Automator67.NodeRelay.Commands;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Options;

namespace Automator67.NodeRelay.Docker;

/// <summary>
/// <c>pull-image</c>: pulls an image (with registry credentials when the command carries them). A missing image or
/// refused credentials end as a failed result with the registry's own reason, which the Engine reports either as
/// the answer's status or inside the progress stream. A refusal of credentials is named as such first: the Engine
/// only passes on the registry's terse words ("unauthorized: authentication required", "no basic auth credentials").
/// The credentials themselves are never logged nor put in the result.
/// </summary>
public sealed class ImagePuller(DockerEngine docker, IOptions<RelayOptions> options)
{
    // How registries, through the Engine, say no to who is asking: distribution's "unauthorized: authentication
    // required" and "no basic auth credentials", Docker Hub's "incorrect username or password" and "pull access denied".
    static readonly string[] AuthWords = ["unauthorized", "authentication required", "no basic auth credentials", "incorrect username or password", "access denied", "denied:"];

    public async Task<JsonElement> PullAsync(PullImageBody body, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(body.Image) || body.Image.Length > 512 || body.Image.Any(char.IsWhiteSpace))
        {
            throw new CommandRefusedException("the image reference is empty or malformed");
        }

        var reference = ImageReference.Parse(body.Image);
        var auth = body.Credentials is { } credentials
            ? new AuthConfig { Username = credentials.Username, Password = credentials.Password, ServerAddress = reference.Registry }
            : null;
        var progress = new LastError();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.Value.PullTimeout);
        try
        {
            await docker.Client.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = reference.Repository, Tag = reference.Tag }, auth, progress, timeout.Token);
        }
        catch (DockerApiException ex)
        {
            throw Failed(body, reference, DockerErrors.Message(ex), ex.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new CommandFailedException($"pulling {body.Image} took longer than {options.Value.PullTimeout} (setting Relay__PullTimeout)");
        }

        if (progress.Message is { } error)
        {
            throw Failed(body, reference, error, refused: false);
        }

        var image = await docker.Client.Images.InspectImageAsync(body.Image, ct);
        return JsonSerializer.SerializeToElement(new PullImageOutput(body.Image, image.ID), RelayJsonContext.Default.PullImageOutput);
    }

    static CommandFailedException Failed(PullImageBody body, ImageReference reference, string said, bool refused)
    {
        if (!refused && !AuthWords.Any(words => said.Contains(words, StringComparison.OrdinalIgnoreCase)))
        {
            return new CommandFailedException($"pulling {body.Image} failed: {said}");
        }

        var registry = reference.Registry == ImageReference.DockerHub ? "docker.io" : reference.Registry;
        var reason = body.Credentials is null
            ? $"the registry {registry} asks for credentials and the command gave none"
            : $"the registry {registry} refused the credentials given for it";
        return new CommandFailedException($"pulling {body.Image} failed: {reason} ({said})");
    }

    // Keeps the stream's last error. Synchronous on purpose: Progress<T> would post it to the thread pool, where it
    // could arrive after the pull has returned.
    sealed class LastError : IProgress<JSONMessage>
    {
        public string? Message { get; private set; }

        public void Report(JSONMessage value)
        {
            if (value.Error?.Message is { Length: > 0 } message)
            {
                Message = message.Trim();
            }
        }
    }
}

/// <summary>An image reference split the way the Engine's pull takes it: repository, tag (or digest), and the registry for credentials.</summary>
public sealed record ImageReference(string Repository, string? Tag, string Registry)
{
    /// <summary>Docker Hub's server address, as the Engine wants it in credentials.</summary>
    public const string DockerHub = "https://index.docker.io/v1/";

    public static ImageReference Parse(string image)
    {
        var slash = image.LastIndexOf('/');
        var firstSlash = image.IndexOf('/');
        var first = firstSlash < 0 ? "" : image[..firstSlash];
        // A first component with a dot or a port, or "localhost", names a registry; otherwise it is Docker Hub.
        var registry = first.Contains('.') || first.Contains(':') || first == "localhost" ? first : DockerHub;
        if (image.Contains('@'))
        {
            return new ImageReference(image, null, registry);
        }

        var colon = image.LastIndexOf(':');
        return colon > slash
            ? new ImageReference(image[..colon], image[(colon + 1)..], registry)
            : new ImageReference(image, "latest", registry);
    }
}
