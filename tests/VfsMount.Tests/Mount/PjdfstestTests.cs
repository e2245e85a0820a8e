using System.Text.RegularExpressions;

namespace VfsMount.Tests.Mount;

/// <summary>
/// SPEC §2.3: POSIX conformance of scratch, measured by pjdfstest (../shared/third_party, run
/// by ../shared/tools/pjdfstest-run) from a scratch directory of a real mount, as root with
/// allow_other. A test file may fail no more of its tests than tests/pjdfstest/expected-failures
/// allows, each entry with its reason (as xfstests keeps its exclusions); the list only shrinks.
/// </summary>
[Collection("Mount")]
public sealed partial class PjdfstestTests
{
    [Fact]
    public void Pjdfstest_FromAScratchDirectory_FailsNoMoreThanExpected()
    {
        string runner = FindUp(Path.Combine("shared", "tools", "pjdfstest-run"))
            ?? throw new FileNotFoundException("../shared/tools/pjdfstest-run not found above " + AppContext.BaseDirectory);
        string expectedFile = FindUp(Path.Combine("tests", "pjdfstest", "expected-failures"))!;
        var allowed = File.ReadLines(expectedFile)
            .Select(l => l.Split('#')[0].Trim())
            .Where(l => l.Length > 0)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToDictionary(f => f[0], f => int.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture));

        using var m = MountedStore.Start("-o allow_other");
        Shell.Run("chmod", ["755", m.Root], "/", 10);
        m.Ok("mkdir c && mkdir c/pjd");
        var (exit, stdout, stderr) = Shell.Run(runner, [Path.Combine(m.Mnt, "c", "pjd")], "/", 2700);
        Assert.True(exit == 0, $"pjdfstest did not run: {stdout}\n{stderr}");
        var summary = Summary().Match(stdout);
        Assert.True(summary.Success, $"no summary line:\n{stdout}\n{stderr}");
        Console.WriteLine(summary.Value);

        var worse = FailedFile().Matches(stdout)
            .Select(f => (File: f.Groups[1].Value, Failed: int.Parse(f.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture)))
            .Where(f => f.Failed > allowed.GetValueOrDefault(f.File))
            .Select(f => $"{f.File}: {f.Failed} failed, {allowed.GetValueOrDefault(f.File)} expected")
            .ToList();
        Assert.True(worse.Count == 0, $"{summary.Value}\n{string.Join("\n", worse)}\ndaemon log:\n{m.Log}");
    }

    /// <summary>The first path above the test binary that ends in <paramref name="relative"/>.</summary>
    private static string? FindUp(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    [GeneratedRegex(@"^pjdfstest: \d+ tests, \d+ failed, in \d+ of \d+ files$", RegexOptions.Multiline)]
    private static partial Regex Summary();

    [GeneratedRegex(@"^(\S+\.t): (\d+)/\d+ failed$", RegexOptions.Multiline)]
    private static partial Regex FailedFile();
}
