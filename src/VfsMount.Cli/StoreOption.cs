using System.CommandLine;
using VfsMount.Store;

namespace VfsMount.Cli;

/// <summary>--store DIR, shared by every command; default $CHIBI_HOME, else ~/.chibi.</summary>
internal static class StoreOption
{
    public static Option<string> Create() => new("--store")
    {
        Description = "the chibi data directory (default: $CHIBI_HOME, else ~/.chibi)",
        DefaultValueFactory = _ => ChibiStore.DefaultRoot(),
    };
}
