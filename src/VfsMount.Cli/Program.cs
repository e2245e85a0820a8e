using System.CommandLine;
using VfsMount.Cli;

args = MountHelperForm.Translate(args);
var root = new RootCommand("vfsmount: a chibi context store as a filesystem");
root.Subcommands.Add(MountCommand.Create(args));
root.Subcommands.Add(UnmountCommand.Create());
root.Subcommands.Add(StatusCommand.Create());
root.Subcommands.Add(CheckCommand.Create());
root.Subcommands.Add(ContextsCommand.Create());
root.Subcommands.Add(AppendCommand.Create());
return root.Parse(args).Invoke();
