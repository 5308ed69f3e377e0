using System.Buffers;
using System.Text.Json;

namespace XtacGateway.Policy.Model;

/// <summary>Writes a policy document in Graph's shape, keeping every property that was read.</summary>
public static class PolicyWriter
{
    /// <summary>How much a writer on a stream may hold before it passes it on.</summary>
    public const int FlushThreshold = 64 * 1024;

    public static byte[] WriteUtf8(PolicyDocument document, bool indented = true)
    {
        using var buffer = new ChunkedBufferWriter();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
        {
            Write(writer, document);
        }

        return buffer.ToArray();
    }

    /// <summary>
    /// Writes an unindented document (<c>PolicySnapshot.DocumentUtf8</c>) to <paramref name="destination"/> indented, the
    /// same bytes <see cref="WriteUtf8"/> writes for it: token by token, with no model of a large policy built and no
    /// copy of it held.
    /// </summary>
    public static void Indent(ReadOnlySpan<byte> compactUtf8, Stream destination)
    {
        using (var writer = new Utf8JsonWriter(destination, new JsonWriterOptions { Indented = true }))
        {
            var reader = new Utf8JsonReader(compactUtf8);
            while (reader.Read())
            {
                // A writer on a stream holds what it wrote until flushed: without this, all of it.
                if (writer.BytesPending > FlushThreshold)
                {
                    writer.Flush();
                }

                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        writer.WriteStartObject();
                        break;
                    case JsonTokenType.EndObject:
                        writer.WriteEndObject();
                        break;
                    case JsonTokenType.StartArray:
                        writer.WriteStartArray();
                        break;
                    case JsonTokenType.EndArray:
                        writer.WriteEndArray();
                        break;
                    // Escaped text is read and escaped again by the same encoder that escaped it, so it comes out the same.
                    case JsonTokenType.PropertyName when reader.ValueIsEscaped:
                        writer.WritePropertyName(reader.GetString()!);
                        break;
                    case JsonTokenType.PropertyName:
                        writer.WritePropertyName(reader.ValueSpan);
                        break;
                    case JsonTokenType.String when reader.ValueIsEscaped:
                        writer.WriteStringValue(reader.GetString());
                        break;
                    case JsonTokenType.String:
                        writer.WriteStringValue(reader.ValueSpan);
                        break;
                    case JsonTokenType.Number:
                        // As written, and indented (a raw value would not be): only an unknown property holds one.
                        using (var number = JsonDocument.ParseValue(ref reader))
                        {
                            number.RootElement.WriteTo(writer);
                        }

                        break;
                    case JsonTokenType.True or JsonTokenType.False:
                        writer.WriteBooleanValue(reader.TokenType == JsonTokenType.True);
                        break;
                    case JsonTokenType.Null:
                        writer.WriteNullValue();
                        break;
                }
            }
        }
    }

    public static string WriteString(PolicyDocument document, bool indented = true)
        => System.Text.Encoding.UTF8.GetString(WriteUtf8(document, indented));

    public static void Write(Utf8JsonWriter writer, PolicyDocument document)
        => Write(writer, document, w => JsonSerializer.Serialize(w, document.Partners, PolicyJsonContext.Default.IReadOnlyListCrossTenantAccessPolicyConfigurationPartner));

    /// <summary>
    /// Writes <paramref name="document"/> with its partner list written by <paramref name="writePartnerList"/>, so that a
    /// reader streaming partners one by one produces the same bytes as a typed document holding them all.
    /// </summary>
    internal static void Write(Utf8JsonWriter writer, PolicyDocument document, Action<Utf8JsonWriter> writePartnerList)
    {
        var context = PolicyJsonContext.Default;
        writer.WriteStartObject();
        writer.WritePropertyName("default");
        JsonSerializer.Serialize(writer, document.Default, context.CrossTenantAccessPolicyConfigurationDefault);
        writer.WritePropertyName("partners");
        if (document.PartnersEnvelope is { } envelope)
        {
            writer.WriteStartObject();
            foreach (var (name, value) in envelope)
            {
                writer.WritePropertyName(name);
                value.WriteTo(writer);
            }

            writer.WritePropertyName("value");
            writePartnerList(writer);
            writer.WriteEndObject();
        }
        else
        {
            writePartnerList(writer);
        }

        if (document.AdditionalData is { } additional)
        {
            foreach (var (name, value) in additional)
            {
                writer.WritePropertyName(name);
                value.WriteTo(writer);
            }
        }

        writer.WriteEndObject();
    }
}
