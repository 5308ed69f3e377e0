using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using XtacGateway.Policy.Validation;

namespace XtacGateway.Policy.Model;

/// <summary>
/// Reads the schema's keyword values (access types, target types, the keyword targets) as one shared string each,
/// so that a policy of 100,000 partners does not hold 100,000 copies of "allowed"; any other string reads as usual.
/// Writes exactly as the built-in string converter does.
/// </summary>
internal sealed class KeywordStringConverter : JsonConverter<string>
{
    private static readonly (byte[] Utf8, string Value)[] s_keywords =
    [
        .. new[]
        {
            PolicyKeywords.Allowed,
            PolicyKeywords.Blocked,
            PolicyKeywords.TargetTypeUser,
            PolicyKeywords.TargetTypeGroup,
            PolicyKeywords.TargetTypeApplication,
            PolicyKeywords.AllUsers,
            PolicyKeywords.AllApplications,
            PolicyKeywords.AllMicrosoftApps,
            PolicyKeywords.Office365,
        }.Select(keyword => (Encoding.UTF8.GetBytes(keyword), keyword)),
    ];

    // Most strings are GUIDs, longer than any keyword: one length check turns them away.
    private static readonly int s_longestKeyword = s_keywords.Max(keyword => keyword.Utf8.Length);

    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String && (reader.ValueIsEscaped || RawLength(ref reader) <= s_longestKeyword))
        {
            foreach (var (utf8, value) in s_keywords)
            {
                if (reader.ValueTextEquals(utf8))
                {
                    return value;
                }
            }
        }

        // Anything else, including a token that is not a string, gets the built-in behaviour and errors.
        return reader.GetString();
    }

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);

    // A custom converter for string also converts dictionary keys (AdditionalData); with a source-generated
    // context there is no built-in fallback for them, so they are read and written here, unchanged.
    public override string ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        => reader.GetString()!;

    public override void WriteAsPropertyName(Utf8JsonWriter writer, string value, JsonSerializerOptions options)
        => writer.WritePropertyName(value);

    private static long RawLength(ref Utf8JsonReader reader) => reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
}
