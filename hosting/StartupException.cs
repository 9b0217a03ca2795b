namespace Automator67.Hosting;

/// <summary>A start-up problem the user can fix; its message is the one line we print.</summary>
public sealed class StartupException(string message) : Exception(message);
