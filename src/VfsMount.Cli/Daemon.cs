using System.Diagnostics;
using System.Reflection;

namespace VfsMount.Cli;

/// <summary>
/// --daemon: the command starts itself again as a child in a session of its own, and returns
/// once the child says the mount is ready (exit 0) or the child exits (its exit code, its
/// reason relayed). No fork in .NET: the child is this program run again with
/// <see cref="ChildVariable"/> set; its standard error is the pipe the parent reads until the
/// child's <see cref="ReadyLine"/>.
/// </summary>
internal static class Daemon
{
    private const string ChildVariable = "VFSMOUNT_DAEMON_CHILD";
    private const string ReadyLine = "\u0001vfsmount: ready";

    /// <summary>Read once: <see cref="BecomeChild"/> removes the variable so nothing the daemon runs inherits it.</summary>
    public static bool IsChild { get; } = Environment.GetEnvironmentVariable(ChildVariable) == "1";

    /// <summary>The parent: starts the child with these arguments and waits for its word.</summary>
    public static int StartAndWait(IReadOnlyList<string> args)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Run as `dotnet vfsmount.dll`, the program is the host's first argument.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet") psi.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment[ChildVariable] = "1";
        using var child = Process.Start(psi)!;
        child.StandardInput.Close();
        _ = child.StandardOutput.ReadToEndAsync();   // the child points it at /dev/null at once
        while (child.StandardError.ReadLine() is { } line)
        {
            if (line == ReadyLine) return 0;
            Console.Error.WriteLine(line);
        }
        child.WaitForExit();
        return child.ExitCode == 0 ? 1 : child.ExitCode;
    }

    /// <summary>The child, first thing: its own session (no terminal, no SIGHUP from the shell that mounted), stdin and stdout /dev/null.</summary>
    public static void BecomeChild()
    {
        Environment.SetEnvironmentVariable(ChildVariable, null);
        Posix.SetSid();
        Posix.Redirect(0, "/dev/null", Posix.O_RDWR);
        Posix.Redirect(1, "/dev/null", Posix.O_RDWR);
    }

    /// <summary>
    /// The child, once the mount answers: tells the parent, then standard error goes to the log
    /// file or /dev/null, and the working directory to / (every path is absolute by now), so the
    /// daemon keeps no directory of the caller's busy.
    /// </summary>
    public static void Ready(LogSink log, string? logFile)
    {
        Directory.SetCurrentDirectory("/");
        log.Detach(ReadyLine);
        Posix.Redirect(2, logFile ?? "/dev/null", logFile is null ? Posix.O_RDWR : Posix.O_WRONLY | Posix.O_APPEND | Posix.O_CREAT);
    }
}
