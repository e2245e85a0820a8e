using System.Text.Json.Nodes;

namespace VfsMount.Store.Transcript;

/// <summary>When the active partition is rotated, and how its tokens are counted (STORE-FORMAT.md "Rotation").</summary>
public sealed record RotationPolicy(long MaxEntries, long MaxAgeSeconds, long MaxTokens, long BytesPerToken, bool BloomFilters)
{
    public static readonly RotationPolicy Default = new(1000, 2_592_000, 100_000, 3, true);

    public long TokensOf(int contentBytes) => (contentBytes + BytesPerToken - 1) / BytesPerToken;

    public bool IsDue(long entries, long tokens, ulong firstTimestamp, ulong now) =>
        entries > 0 && (entries >= MaxEntries || tokens >= MaxTokens
                        || (long)(now - Math.Min(now, firstTimestamp)) >= MaxAgeSeconds);

    public JsonObject ToManifestJson() => new()
    {
        ["max_entries"] = MaxEntries,
        ["max_age_seconds"] = MaxAgeSeconds,
        ["max_tokens"] = MaxTokens,
    };

    /// <summary>
    /// Options (the command line) first, then the manifest's rotation_policy, then the context's
    /// local.toml [storage], then the store's config.toml [storage], then chibi's defaults; floors last.
    /// </summary>
    public static RotationPolicy Resolve(StorageOptions options, JsonObject? manifest, string contextDir, string storeDir)
    {
        var fromManifest = manifest?["rotation_policy"] as JsonObject;
        var local = StorageConfig.Read(Path.Combine(contextDir, "local.toml"));
        var global = StorageConfig.Read(Path.Combine(storeDir, "config.toml"));

        long Pick(long? option, string manifestKey, string tomlKey, long fallback) =>
            option ?? ManifestValue(fromManifest, manifestKey) ?? local.Long(tomlKey) ?? global.Long(tomlKey) ?? fallback;

        var d = Default;
        return new RotationPolicy(
            MaxEntries: Math.Max(1, Pick(options.MaxEntries, "max_entries", "partition_max_entries", d.MaxEntries)),
            MaxAgeSeconds: Math.Max(60, Pick(options.MaxAgeSeconds, "max_age_seconds", "partition_max_age_seconds", d.MaxAgeSeconds)),
            MaxTokens: Math.Max(1, Pick(options.MaxTokens, "max_tokens", "partition_max_tokens", d.MaxTokens)),
            BytesPerToken: Math.Max(1, local.Long("bytes_per_token") ?? global.Long("bytes_per_token") ?? d.BytesPerToken),
            BloomFilters: local.Bool("enable_bloom_filters") ?? global.Bool("enable_bloom_filters") ?? d.BloomFilters);
    }

    private static long? ManifestValue(JsonObject? policy, string key) =>
        policy?[key] is JsonValue v && v.TryGetValue<long>(out var n) ? n : null;
}

/// <summary>Thresholds given on the command line; null means "not given".</summary>
public sealed record StorageOptions(long? MaxEntries = null, long? MaxTokens = null, long? MaxAgeSeconds = null)
{
    public static readonly StorageOptions None = new();
}
