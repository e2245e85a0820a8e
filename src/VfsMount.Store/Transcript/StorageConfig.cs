using VfsMount.Store.Posix;
using Tomlyn;
using Tomlyn.Model;

namespace VfsMount.Store.Transcript;

/// <summary>The [storage] table of a chibi TOML file (config.toml or a context's local.toml).</summary>
public sealed class StorageConfig
{
    private static readonly StorageConfig Empty = new(null);
    private readonly TomlTable? _storage;

    private StorageConfig(TomlTable? storage) => _storage = storage;

    /// <summary>A missing file is empty; a corrupt one is treated as empty here and reported by check.</summary>
    public static StorageConfig Read(string path)
    {
        // A planted symlink or FIFO is not followed or waited on (ELOOP / EIO, logged by the store root): no settings from it.
        if (PosixFile.ReadAll(path, out byte[] bytes) != 0) return Empty;
        var model = TryParse(System.Text.Encoding.UTF8.GetString(bytes), out _);
        return model is null ? Empty : new StorageConfig(model.TryGetValue("storage", out var s) ? s as TomlTable : null);
    }

    /// <summary>Parses TOML; null with the parser's reason when it is not valid TOML.</summary>
    public static TomlTable? TryParse(string text, out string? error)
    {
        try
        {
            error = null;
            // The deserializer lets a redefined key or table through (the last one wins); chibi's
            // toml crate refuses the file, and chibi stops on a corrupt local.toml. The syntax
            // parser's strict mode checks those rules.
            Tomlyn.Parsing.SyntaxParser.ParseStrict(text, "document.toml", validate: true);
            return TomlSerializer.Deserialize<TomlTable>(text);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            error = e.Message.ReplaceLineEndings(" ");
            return null;
        }
    }

    public long? Long(string key) =>
        _storage is not null && _storage.TryGetValue(key, out var v) && v is long n ? n : null;

    public bool? Bool(string key) =>
        _storage is not null && _storage.TryGetValue(key, out var v) && v is bool b ? b : null;
}
