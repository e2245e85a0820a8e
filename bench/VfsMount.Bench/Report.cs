using System.Globalization;
using System.Text;

namespace VfsMount.Bench;

/// <summary>What a row's target compares the mount's median with.</summary>
internal enum Reference { Native, Bindfs, Passthrough, Absolute }

/// <summary>
/// "mount ≥ 0.85× native" (HigherIsBetter) or "mount ≤ 2× native"; Absolute compares the
/// mount's median with Factor itself, in the row's unit.
/// </summary>
internal sealed record Target(Reference Reference, double Factor)
{
    public string Text(bool higherIsBetter, string unit) => Reference switch
    {
        Reference.Absolute => $"{(higherIsBetter ? "≥" : "≤")} {Report.Format(Factor)} {unit}",
        _ => $"{(higherIsBetter ? "≥" : "≤")} {Report.Format(Factor)}× {Name(Reference)}",
    };

    public static string Name(Reference reference) => reference switch
    {
        Reference.Native => "native",
        Reference.Bindfs => "bindfs",
        Reference.Passthrough => "passthrough_ll",
        _ => "",
    };
}

/// <summary>
/// One workload: the values of every round on every side, and what to say about them. A row
/// passes when it meets every one of its targets (`ls -lR` has one per FUSE peer).
/// </summary>
internal sealed class Row(string name, string unit, bool higherIsBetter, params Target[] targets)
{
    public string Name { get; } = name;
    public string Unit { get; } = unit;
    public bool HigherIsBetter { get; } = higherIsBetter;
    public IReadOnlyList<Target> Targets { get; } = targets;
    public List<double> Mount { get; } = [];
    public List<double> Native { get; } = [];
    public List<double> Bindfs { get; } = [];
    /// <summary>libfuse's example passthrough_ll (low-level API, its default cache=auto: 1 s timeouts).</summary>
    public List<double> Passthrough { get; } = [];
    public List<string> Notes { get; } = [];
    public string? Error { get; set; }

    public static double? Median(List<double> values)
    {
        if (values.Count == 0) return null;
        var s = values.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    public double? Ratio(List<double> reference) =>
        Median(Mount) is { } m && Median(reference) is { } r && r > 0 ? m / r : null;

    /// <summary>True pass (every target met), false fail, null when there is no target or a value is missing.</summary>
    public bool? Passed()
    {
        if (Targets.Count == 0) return null;
        if (Error is not null) return false;
        bool all = true;
        foreach (var target in Targets)
        {
            double? value = target.Reference switch
            {
                Reference.Native => Ratio(Native),
                Reference.Bindfs => Ratio(Bindfs),
                Reference.Passthrough => Ratio(Passthrough),
                _ => Median(Mount),
            };
            if (value is not { } v) return null;
            all &= HigherIsBetter ? v >= target.Factor : v <= target.Factor;
        }
        return all;
    }

    public string TargetText => Targets.Count == 0 ? "(info)" : string.Join(" and ", Targets.Select(t => t.Text(HigherIsBetter, Unit)));
}

internal sealed class Report
{
    private readonly List<Row> _rows = [];

    public string Machine { get; set; } = "";
    public List<string> Notes { get; } = [];

    public Row Add(Row row)
    {
        _rows.Add(row);
        return row;
    }

    public static string Format(double v) => Math.Abs(v) switch
    {
        >= 1000 => v.ToString("N0", CultureInfo.InvariantCulture),
        >= 100 => v.ToString("F0", CultureInfo.InvariantCulture),
        >= 10 => v.ToString("F1", CultureInfo.InvariantCulture),
        >= 1 => v.ToString("F2", CultureInfo.InvariantCulture),
        _ => v.ToString("G3", CultureInfo.InvariantCulture),
    };

    private static string Cell(double? v) => v is { } x ? Format(x) : "—";

    private static string RatioCell(double? v) => v is { } x ? x.ToString("F2", CultureInfo.InvariantCulture) + "×" : "—";

    public string Render(int rounds)
    {
        var sb = new StringBuilder();
        sb.AppendLine(Machine);
        sb.AppendLine();
        sb.AppendLine($"Medians of {rounds} round{(rounds == 1 ? "" : "s")}; ratios are mount ÷ the other side in the row's unit.");
        sb.AppendLine();
        sb.AppendLine("| workload | unit | mount | native | bindfs | passthrough_ll | mount/native | mount/bindfs | mount/passthrough_ll | target | result |");
        sb.AppendLine("|---|---|--:|--:|--:|--:|--:|--:|--:|---|---|");
        foreach (var r in _rows)
        {
            string result = r.Error is not null ? "❌ error" : r.Passed() switch { true => "✅ pass", false => "❌ fail", null => "" };
            string mount = r.Error is not null && r.Mount.Count == 0 ? "error" : Cell(Row.Median(r.Mount));
            sb.AppendLine($"| {r.Name} | {r.Unit} | {mount} | {Cell(Row.Median(r.Native))} | {Cell(Row.Median(r.Bindfs))} | {Cell(Row.Median(r.Passthrough))} | " +
                          $"{RatioCell(r.Ratio(r.Native))} | {RatioCell(r.Ratio(r.Bindfs))} | {RatioCell(r.Ratio(r.Passthrough))} | {r.TargetText} | {result} |");
        }
        sb.AppendLine();
        sb.AppendLine("Per round and notes:");
        sb.AppendLine();
        foreach (var r in _rows)
        {
            sb.Append($"* **{r.Name}** ({r.Unit}):");
            if (r.Mount.Count > 0) sb.Append($" mount {Join(r.Mount)};");
            if (r.Native.Count > 0) sb.Append($" native {Join(r.Native)};");
            if (r.Bindfs.Count > 0) sb.Append($" bindfs {Join(r.Bindfs)};");
            if (r.Passthrough.Count > 0) sb.Append($" passthrough_ll {Join(r.Passthrough)};");
            sb.AppendLine();
            foreach (var n in r.Notes) sb.AppendLine($"  * {n}");
            if (r.Error is not null) sb.AppendLine($"  * ERROR: {r.Error}");
        }
        foreach (var n in Notes) sb.AppendLine($"* {n}");
        return sb.ToString();
    }

    private static string Join(List<double> values) => string.Join(" / ", values.Select(Format));
}
