namespace Automator67.Hosting;

/// <summary>
/// Files only their owner may read (signing keys, the two-factor key, a relay's identity and journal), replaced
/// whole: written under a unique private temporary name (mode 0600) and renamed into place, so a crash never leaves
/// half a file, no other user ever sees the content, and two writers never share a temporary file.
/// </summary>
public static class PrivateFile
{
    /// <summary>
    /// Writes <paramref name="path"/> with <paramref name="write"/>. With <paramref name="overwrite"/> false an existing
    /// file is kept (another process wrote it first) and the result is false.
    /// </summary>
    public static bool Write(string path, Action<Stream> write, bool overwrite = true)
    {
        var temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using (var stream = new FileStream(temp, options))
            {
                write(stream);
                stream.Flush(flushToDisk: true); // on disk before the rename makes it the file
            }

            File.Move(temp, path, overwrite);
            return true;
        }
        catch (IOException) when (!overwrite && File.Exists(path))
        {
            return false;
        }
        finally
        {
            File.Delete(temp); // gone already after a successful move; a no-op then
        }
    }
}
