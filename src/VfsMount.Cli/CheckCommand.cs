using System.CommandLine;
using VfsMount.Store;
using VfsMount.Store.Recovery;

namespace VfsMount.Cli;

/// <summary>`vfsmount check [--repair]`: 0 consistent (or all mended), 1 problems, 2 error.</summary>
internal static class CheckCommand
{
    public static Command Create()
    {
        var store = StoreOption.Create();
        var repair = new Option<bool>("--repair") { Description = "recover: quarantine torn tails, remove stray temp files, reconcile manifests" };
        var command = new Command("check", "report (and with --repair, mend) what a crash left in the store") { store, repair };
        command.SetAction(r =>
        {
            try
            {
                var s = new ChibiStore(r.GetValue(store)!);
                var mended = new List<string>();
                var problems = StoreCheck.Run(s, r.GetValue(repair), mended);
                foreach (var m in mended) Console.WriteLine($"mended: {m}");
                foreach (var p in problems) Console.WriteLine($"problem: {p}");
                if (problems.Count == 0) Console.WriteLine(mended.Count == 0 ? "store is consistent" : "store mended");
                return problems.Count == 0 ? 0 : 1;
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"vfsmount check: {e.Message}");
                return 2;
            }
        });
        return command;
    }
}
