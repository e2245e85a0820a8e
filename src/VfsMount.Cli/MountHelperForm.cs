namespace VfsMount.Cli;

/// <summary>
/// `vfsmount STORE MOUNTPOINT -o OPTS`: the form mount(8) uses. For `mount -t fuse.vfsmount`
/// and an fstab line of that type, fuse3's mount.fuse3 helper runs `vfsmount STORE MNT -o OPTS`
/// from the PATH; it means `vfsmount mount MNT --store STORE --daemon -o OPTS`.
/// </summary>
internal static class MountHelperForm
{
    private static readonly HashSet<string> Commands = ["mount", "unmount", "status", "check", "contexts", "append"];

    public static string[] Translate(string[] args) =>
        args.Length >= 2 && !Commands.Contains(args[0]) && !args[0].StartsWith('-') && !args[1].StartsWith('-')
            ? ["mount", args[1], "--store", args[0], "--daemon", .. args[2..]]
            : args;
}
