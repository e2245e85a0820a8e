using System.Text;
using System.Text.Json;
using VfsMount.Store.Json;
using VfsMount.Store.Posix;
using VfsMount.Store.Transcript;

namespace VfsMount.Store.Documents;

/// <summary>
/// What a document must hold: UTF-8 text, a JSON object, any JSON value (chibi 0.10's vfs/*.json),
/// JSON lines, TOML — or anything (Opaque: an editor's swap file beside a .vfs/ document).
/// </summary>
public enum DocumentFormat { Text, JsonObject, JsonLines, Toml, Json, Opaque }

/// <summary>The validation a document's content must pass before it is committed (SPEC §2.2).</summary>
public static class DocumentValidator
{
    public const long DefaultMaxBytes = 1L << 30;

    /// <summary>Throws EINVAL with the reason when the file's content is not valid for its format.</summary>
    public static void Validate(DocumentFormat format, string path)
    {
        using var file = PosixFile.OpenOrThrow(path, PosixFile.ReadOnly | PosixFile.NoFollow);
        using var stream = file.ReadStream();
        switch (format)
        {
            case DocumentFormat.Text:
                ValidateUtf8(stream);
                break;
            case DocumentFormat.Opaque:
                break;
            case DocumentFormat.JsonObject:
            case DocumentFormat.Json:
                // The JSON reader does not check the bytes inside strings, nor repeated keys: chibi
                // resets a state.json or context_meta.json it cannot parse, so both are refused here.
                ValidateUtf8(stream);
                stream.Position = 0;
                try
                {
                    using var doc = JsonDocument.Parse(stream, JsonFormat.Strict);
                    if (format == DocumentFormat.JsonObject && doc.RootElement.ValueKind != JsonValueKind.Object) throw Invalid("must be a JSON object");
                    EntryCompleter.CheckStrict(doc.RootElement);
                }
                catch (JsonException e)
                {
                    throw Invalid($"not JSON: {e.Message}");
                }
                break;
            case DocumentFormat.JsonLines:
                ValidateLines(stream);
                break;
            case DocumentFormat.Toml:
                string text;
                try
                {
                    text = new StreamReader(stream, new UTF8Encoding(false, true)).ReadToEnd();
                }
                catch (DecoderFallbackException)
                {
                    throw Invalid("not UTF-8");
                }
                if (StorageConfig.TryParse(text, out var error) is null) throw Invalid($"not TOML: {error}");
                break;
        }
    }

    private static void ValidateUtf8(Stream stream)
    {
        var decoder = new UTF8Encoding(false, true).GetDecoder();
        var bytes = new byte[1 << 16];
        var chars = new char[(1 << 16) + 4];
        try
        {
            int n;
            while ((n = stream.Read(bytes)) > 0) decoder.GetChars(bytes, 0, n, chars, 0, flush: false);
            decoder.GetChars(bytes, 0, 0, chars, 0, flush: true);
        }
        catch (DecoderFallbackException)
        {
            throw Invalid("not UTF-8 text");
        }
    }

    /// <summary>
    /// Lines end at '\n' only, as chibi reads them (a "\r\n" ends one too; a lone '\r' does not:
    /// StreamReader.ReadLine would split "{..}\r{..}" into two valid lines chibi cannot parse).
    /// </summary>
    private static void ValidateLines(Stream stream)
    {
        var buffer = new byte[1 << 16];
        var line = new MemoryStream();
        int number = 0;
        int n;
        while ((n = stream.Read(buffer)) > 0)
        {
            int start = 0;
            for (int i; (i = Array.IndexOf(buffer, (byte)'\n', start, n - start)) >= 0; start = i + 1)
            {
                line.Write(buffer, start, i - start);
                ValidateLine(line, ++number);
                line.SetLength(0);
            }
            line.Write(buffer, start, n - start);
        }
        if (line.Length > 0) ValidateLine(line, ++number);
    }

    private static void ValidateLine(MemoryStream line, int number) => ValidateLine(line.GetBuffer().AsSpan(0, (int)line.Length), number);

    /// <summary>One line of context.jsonl (without its '\n'): empty, or one JSON object. Throws EINVAL naming the line.</summary>
    internal static void ValidateLine(ReadOnlySpan<byte> bytes, int number)
    {
        if (bytes.Length > 0 && bytes[^1] == (byte)'\r') bytes = bytes[..^1];
        if (bytes.IsEmpty) return;
        JsonValueKind kind;
        try
        {
            using var doc = EntryCompleter.Parse(bytes);
            kind = doc.RootElement.ValueKind;
        }
        catch (StoreException e)
        {
            throw Invalid($"line {number}: {e.Message}");
        }
        if (kind != JsonValueKind.Object) throw Invalid($"line {number} is not a JSON object");
    }

    private static StoreException Invalid(string reason) => new(22, reason);
}
