using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace VfsMount.Store.Json;

/// <summary>chibi's two JSON shapes: compact (one line) and pretty (2 spaces, no trailing newline).</summary>
public static class JsonFormat
{
    // serde_json writes UTF-8 as is; only quotes, backslashes and control characters are escaped.
    public static readonly JsonWriterOptions Compact = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    public static readonly JsonWriterOptions Pretty = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = true,
        IndentSize = 2,
        NewLine = "\n",
    };

    public static readonly JsonDocumentOptions Strict = new() { MaxDepth = 256 };

    public static byte[] ToPretty(JsonNode node) => Write(node, Pretty);

    public static byte[] ToCompact(JsonNode node) => Write(node, Compact);

    private static byte[] Write(JsonNode node, JsonWriterOptions options)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, options)) node.WriteTo(writer);
        return buffer.WrittenSpan.ToArray();
    }
}
