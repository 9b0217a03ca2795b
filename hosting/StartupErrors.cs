using System.Net.Sockets;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Automator67.Hosting;

/// <summary>
/// Turns the exceptions a misconfigured start throws into one line that names the problem and the fix,
/// so a user sees "port 7071 is in use" rather than a stack trace.
/// </summary>
public static partial class StartupErrors
{
    /// <summary>Exit code for a start refused because of configuration or environment.</summary>
    public const int ExitCode = 2;

    /// <summary>Returns the one-line description, or null when the exception is not a start-up problem we know.</summary>
    public static string? Describe(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case StartupException startup:
                    return startup.Message;
                case OptionsValidationException validation:
                    return string.Join(" ", validation.Failures.Select(f => f.TrimEnd('.') + "."));
                case InvalidOperationException when ConversionFailure().Match(current.Message) is { Success: true } match:
                    return $"Setting {match.Groups["key"].Value.Replace(":", "__", StringComparison.Ordinal)} has the value '{match.Groups["value"].Value}', which is not a valid {match.Groups["type"].Value.Split('.')[^1]}; fix it in local.settings.json or the environment.";
                case SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse }:
                case Exception other when other.GetType().Name == "AddressInUseException":
                    return $"{FirstLine(exception.Message)} Another process holds the port: stop it, or choose another port with the ControlPlane__Port setting.";
            }
        }

        return null;
    }

    /// <summary>Runs the host; a known start-up problem prints one line to stderr and exits with <see cref="ExitCode"/>.</summary>
    public static async Task<int> RunAsync(string program, Func<Task> run)
    {
        try
        {
            await run();
            return 0;
        }
        catch (Exception ex) when (Describe(ex) is { } line)
        {
            await Console.Error.WriteLineAsync($"{program}: {line}");
            return ExitCode;
        }
    }

    static string FirstLine(string message)
    {
        var end = message.IndexOf('\n', StringComparison.Ordinal);
        return (end < 0 ? message : message[..end]).Trim();
    }

    // The configuration binder's message: Failed to convert configuration value 'abc' at 'Orchestrations:WorkerCount' to type 'System.Int32'.
    [GeneratedRegex("Failed to convert configuration value '(?<value>.*)' at '(?<key>[^']+)' to type '(?<type>[^']+)'")]
    private static partial Regex ConversionFailure();
}
