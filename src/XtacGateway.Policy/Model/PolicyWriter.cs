using System.Buffers;
using System.Text.Json;

namespace XtacGateway.Policy.Model;

/// <summary>Writes a policy document in Graph's shape, keeping every property that was read.</summary>
public static class PolicyWriter
{
    public static byte[] WriteUtf8(PolicyDocument document, bool indented = true)
    {
        using var buffer = new ChunkedBufferWriter();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
        {
            Write(writer, document);
        }

        return buffer.ToArray();
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
