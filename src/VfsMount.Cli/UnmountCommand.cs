using System.CommandLine;
using System.Diagnostics;

namespace VfsMount.Cli;

/// <summary>`vfsmount unmount MOUNTPOINT [--lazy]`: fusermount3 -u (-z when lazy).</summary>
internal static class UnmountCommand
{
    public static Command Create()
    {
        var mountPoint = new Argument<string>("MOUNTPOINT");
        var lazy = new Option<bool>("--lazy") { Description = "detach now even while files are open (fusermount3 -uz)" };
        var command = new Command("unmount", "unmount a vfsmount mount point") { mountPoint, lazy };
        command.SetAction(r =>
        {
            string path = Path.GetFullPath(r.GetValue(mountPoint)!);
            if (!MountCommand.IsMountPoint(path))
            {
                Console.Error.WriteLine($"vfsmount: {path} is not mounted");
                return 1;
            }
            var psi = new ProcessStartInfo("fusermount3") { ArgumentList = { r.GetValue(lazy) ? "-uz" : "-u", path }, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            string error = p.StandardError.ReadToEnd().Trim();
            p.WaitForExit();
            if (p.ExitCode == 0) return 0;
            Console.Error.WriteLine($"vfsmount: cannot unmount {path}: {error}{(error.Contains("busy", StringComparison.Ordinal) ? " (close the files open there, or use --lazy)" : "")}");
            return 1;
        });
        return command;
    }
}
