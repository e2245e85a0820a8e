using System.Globalization;
using System.Text;

namespace VfsMount.Bench;

/// <summary>What a row's target compares the mount's median with.</summary>
internal enum Reference { Native, Bindfs, Absolute }

/// <summary>
/// "mount ≥ 0.85× native" (HigherIsBetter) or "mount ≤ 2× native"; Absolute compares the
/// mount's median with Factor itself, in the row's unit.
/// </summary>
internal sealed record Target(Reference Reference, double Factor)
{
    public string Text(bool higherIsBetter, string unit) => Reference switch
    {
        Reference.Absolute => $"{(higherIsBetter ? "≥" : "≤")} {Report.Format(Factor)} {unit}",
        _ => $"{(higherIsBetter ? "≥" : "≤")} {Report.Format(Factor)}× {(Reference == Reference.Native ? "native" : "bindfs")}",
    };
}

/// <summary>One workload: the values of every round on every side, and what to say about them.</summary>
internal sealed class Row(string name, string unit, bool higherIsBetter, Target? target)
{
    public string Name { get; } = name;
    public string Unit { get; } = unit;
    public bool HigherIsBetter { get; } = higherIsBetter;
    public Target? Target { get; } = target;
    public List<double> Mount { get; } = [];
    public List<double> Native { get; } = [];
    public List<double> Bindfs { get; } = [];
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

    /// <summary>True pass, false fail, null when there is no target or no value.</summary>
    public bool? Passed()
    {
        if (Target is null || Error is not null) return Target is null ? null : false;
        double? value = Target.Reference switch
        {
            Reference.Native => Ratio(Native),
            Reference.Bindfs => Ratio(Bindfs),
            _ => Median(Mount),
        };
        if (value is not { } v) return null;
        return HigherIsBetter ? v >= Target.Factor : v <= Target.Factor;
    }
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
        sb.AppendLine("| workload | unit | mount | native | bindfs | mount/native | mount/bindfs | target | result |");
        sb.AppendLine("|---|---|--:|--:|--:|--:|--:|---|---|");
        foreach (var r in _rows)
        {
            string result = r.Error is not null ? "❌ error" : r.Passed() switch { true => "✅ pass", false => "❌ fail", null => "" };
            string mount = r.Error is not null && r.Mount.Count == 0 ? "error" : Cell(Row.Median(r.Mount));
            sb.AppendLine($"| {r.Name} | {r.Unit} | {mount} | {Cell(Row.Median(r.Native))} | {Cell(Row.Median(r.Bindfs))} | " +
                          $"{RatioCell(r.Ratio(r.Native))} | {RatioCell(r.Ratio(r.Bindfs))} | {r.Target?.Text(r.HigherIsBetter, r.Unit) ?? "(info)"} | {result} |");
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
            sb.AppendLine();
            foreach (var n in r.Notes) sb.AppendLine($"  * {n}");
            if (r.Error is not null) sb.AppendLine($"  * ERROR: {r.Error}");
        }
        foreach (var n in Notes) sb.AppendLine($"* {n}");
        return sb.ToString();
    }

    private static string Join(List<double> values) => string.Join(" / ", values.Select(Format));
}
