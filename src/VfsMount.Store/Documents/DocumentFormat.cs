using System.Text;
using System.Text.Json;
using VfsMount.Store.Json;
using VfsMount.Store.Transcript;

namespace VfsMount.Store.Documents;

public enum DocumentFormat { Text, JsonObject, JsonLines, Toml }

/// <summary>The validation a document's content must pass before it is committed (SPEC §2.2).</summary>
public static class DocumentValidator
{
    public const long DefaultMaxBytes = 1L << 30;

    /// <summary>Throws EINVAL with the reason when the file's content is not valid for its format.</summary>
    public static void Validate(DocumentFormat format, string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
        switch (format)
        {
            case DocumentFormat.Text:
                ValidateUtf8(stream);
                break;
            case DocumentFormat.JsonObject:
                try
                {
                    using var doc = JsonDocument.Parse(stream, JsonFormat.Strict);
                    if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Invalid("must be a JSON object");
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

    private static void ValidateLines(Stream stream)
    {
        using var reader = new StreamReader(stream, new UTF8Encoding(false, true));
        int number = 0;
        try
        {
            while (reader.ReadLine() is { } line)
            {
                number++;
                if (line.Length == 0) continue;
                using var doc = EntryCompleter.Parse(Encoding.UTF8.GetBytes(line));
                if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Invalid($"line {number} is not a JSON object");
            }
        }
        catch (DecoderFallbackException)
        {
            throw Invalid("not UTF-8");
        }
        catch (StoreException e)
        {
            throw Invalid($"line {number}: {e.Message}");
        }
    }

    private static StoreException Invalid(string reason) => new(22, reason);
}
