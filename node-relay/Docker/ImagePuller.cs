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
/// the answer's status or inside the progress stream.
/// </summary>
public sealed class ImagePuller(DockerEngine docker, IOptions<RelayOptions> options)
{
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
            throw new CommandFailedException($"pulling {body.Image} failed: {DockerErrors.Message(ex)}");
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new CommandFailedException($"pulling {body.Image} took longer than {options.Value.PullTimeout} (setting Relay__PullTimeout)");
        }

        if (progress.Message is { } error)
        {
            throw new CommandFailedException($"pulling {body.Image} failed: {error}");
        }

        var image = await docker.Client.Images.InspectImageAsync(body.Image, ct);
        return JsonSerializer.SerializeToElement(new PullImageOutput(body.Image, image.ID), RelayJsonContext.Default.PullImageOutput);
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
    public static ImageReference Parse(string image)
    {
        var slash = image.LastIndexOf('/');
        var firstSlash = image.IndexOf('/');
        var first = firstSlash < 0 ? "" : image[..firstSlash];
        // A first component with a dot or a port, or "localhost", names a registry; otherwise it is Docker Hub.
        var registry = first.Contains('.') || first.Contains(':') || first == "localhost" ? first : "https://index.docker.io/v1/";
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
