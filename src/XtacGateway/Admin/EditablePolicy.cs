using System.Text.Json;
using System.Text.Json.Nodes;
using XtacGateway.Policy.Model;

namespace XtacGateway.Admin;

/// <summary>
/// The policy document an admin change edits. The default and the partners the change touches become JSON nodes;
/// every other partner stays the bytes it was and is copied through when the edited document is written. A change to
/// one of 100,000 partners so costs one pass over the document's bytes, not a node for each of its partners.
/// </summary>
internal sealed class EditablePolicy
{
    private readonly ReadOnlyMemory<byte> _document;
    private readonly List<TopLevelMember> _members = [];
    private readonly List<PartnerSlot> _partners = [];
    private readonly int _defaultMember = -1;
    private readonly int _partnersMember = -1;

    /// <summary>Graph's list envelope (<c>{"@odata.context": ..., "value": [...]}</c>): its members other than the list.</summary>
    private readonly List<TopLevelMember>? _envelope;

    private JsonObject? _default;
    private bool _defaultRead;
    private bool _partnersRead;
    private int _removed;

    private EditablePolicy(ReadOnlyMemory<byte> document)
    {
        _document = document;
        var reader = new Utf8JsonReader(document.Span);
        Expect(ref reader, JsonTokenType.StartObject);
        while (Read(ref reader) == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            var value = ReadValue(ref reader, out var kind);
            if (name == "partners" && kind is JsonTokenType.StartArray or JsonTokenType.StartObject)
            {
                // Found when first asked for: an edit of the default, or a read of it, needs none of them.
                _partnersMember = _members.Count;
                _envelope = kind == JsonTokenType.StartObject ? [] : null;
            }
            else if (name == "default")
            {
                _defaultMember = _members.Count;
            }

            _members.Add(new TopLevelMember(name, value));
        }
    }

    /// <summary>Reads <paramref name="document"/>, a valid policy (the snapshot's unindented document).</summary>
    public static EditablePolicy Read(ReadOnlyMemory<byte> document) => new(document);

    /// <summary>The partners the edited document holds.</summary>
    public int PartnerCount => Partners.Count - _removed;

    /// <summary>The default configuration, as a node the edit may change (an empty one when the document has none).</summary>
    public JsonObject Default
    {
        get
        {
            if (ExistingDefault is { } existing)
            {
                return existing;
            }

            _defaultRead = true;
            return _default = [];
        }
    }

    /// <summary>The default configuration when the document has one (null when it has none, or it is JSON null).</summary>
    public JsonObject? ExistingDefault
    {
        get
        {
            if (!_defaultRead)
            {
                _defaultRead = true;
                _default = _defaultMember >= 0 ? JsonNode.Parse(_document.Span[_members[_defaultMember].Value]) as JsonObject : null;
            }

            return _default;
        }
    }

    public void ReplaceDefault(JsonObject replacement)
    {
        _defaultRead = true;
        _default = replacement;
    }

    /// <summary>Where partner <paramref name="tenant"/> is in the edited document's list, or -1.</summary>
    public int IndexOf(Guid tenant)
    {
        var index = 0;
        foreach (var slot in Partners)
        {
            if (slot.Removed)
            {
                continue;
            }

            if (slot.Tenant == tenant)
            {
                return index;
            }

            index++;
        }

        return -1;
    }

    /// <summary>Partner <paramref name="index"/> as a node the edit may change.</summary>
    public JsonObject Partner(int index)
    {
        var slot = Slot(index);
        return slot.Node ??= JsonNode.Parse(_document.Span[slot.Bytes!.Value])!.AsObject();
    }

    /// <summary>Adds <paramref name="partner"/> at the end of the list; returns its index.</summary>
    public int AddPartner(JsonObject partner)
    {
        Partners.Add(new PartnerSlot { Node = partner });
        return PartnerCount - 1;
    }

    public void RemovePartner(int index)
    {
        Slot(index).Removed = true;
        _removed++;
    }

    /// <summary>Where partner <paramref name="index"/> sits, as the parser names it: in the list or in Graph's list envelope.</summary>
    public string PartnerPath(int index) => _envelope is null ? $"$.partners[{index}]" : $"$.partners.value[{index}]";

    /// <summary>The node at <paramref name="path"/> (<c>$.default</c> or a <see cref="PartnerPath"/>) when the edit read it.</summary>
    public JsonNode? NodeAt(string? path)
    {
        if (path == "$.default")
        {
            return _defaultRead ? _default : null;
        }

        return path is not null && path.EndsWith(']') && path.LastIndexOf('[') is var open and > 0
            && int.TryParse(path.AsSpan(open + 1, path.Length - open - 2), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index)
            && index < PartnerCount
            ? Slot(index).Node
            : null;
    }

    /// <summary>The edited document: the members as they were, but for the default and the partners the edit changed.</summary>
    public ReadOnlyMemory<byte> ToUtf8()
    {
        // Room for what an edit adds (one partner, a default), so that the buffer is not copied into one twice its size.
        var buffer = new MemoryStream(_document.Length + 64 * 1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            for (var i = 0; i < _members.Count; i++)
            {
                writer.WritePropertyName(_members[i].Name);
                if (i == _defaultMember && _defaultRead)
                {
                    WriteNode(writer, _default);
                }
                else if (i == _partnersMember && _partnersRead)
                {
                    WritePartners(writer);
                }
                else
                {
                    writer.WriteRawValue(_document.Span[_members[i].Value], skipInputValidation: true);
                }
            }

            if (_defaultMember < 0 && _default is not null)
            {
                writer.WritePropertyName("default");
                _default.WriteTo(writer);
            }

            if (_partnersMember < 0 && _partners.Count > 0)
            {
                writer.WritePropertyName("partners");
                WritePartners(writer);
            }

            writer.WriteEndObject();
        }

        return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
    }

    private void WritePartners(Utf8JsonWriter writer)
    {
        if (_envelope is not null)
        {
            writer.WriteStartObject();
            foreach (var member in _envelope)
            {
                writer.WritePropertyName(member.Name);
                writer.WriteRawValue(_document.Span[member.Value], skipInputValidation: true);
            }

            writer.WritePropertyName("value");
        }

        writer.WriteStartArray();
        foreach (var slot in _partners)
        {
            if (slot.Removed)
            {
                continue;
            }

            if (slot.Node is { } node)
            {
                node.WriteTo(writer);
            }
            else
            {
                writer.WriteRawValue(_document.Span[slot.Bytes!.Value], skipInputValidation: true);
            }

            // Into the buffer as it goes: the writer would otherwise hold a second copy of the whole list.
            if (writer.BytesPending > PolicyWriter.FlushThreshold)
            {
                writer.Flush();
            }
        }

        writer.WriteEndArray();
        if (_envelope is not null)
        {
            writer.WriteEndObject();
        }
    }

    private static void WriteNode(Utf8JsonWriter writer, JsonNode? node)
    {
        if (node is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            node.WriteTo(writer);
        }
    }

    /// <summary>Finds each partner's bytes and tenant ID, in the list or in Graph's envelope around it.</summary>
    private void ReadPartners(Range value)
    {
        var start = value.Start.Value;
        var reader = new Utf8JsonReader(_document.Span[value]);
        if (Read(ref reader) == JsonTokenType.StartObject)
        {
            Range? list = null;
            while (Read(ref reader) == JsonTokenType.PropertyName)
            {
                var name = reader.GetString()!;
                var member = ReadValue(ref reader, out var kind);
                var at = new Range(start + member.Start.Value, start + member.End.Value);
                if (name == "value" && kind == JsonTokenType.StartArray)
                {
                    list = at;
                }
                else
                {
                    _envelope!.Add(new TopLevelMember(name, at));
                }
            }

            if (list is { } array)
            {
                ReadPartners(array);
            }

            return;
        }

        // At the list's start: each element is one partner.
        while (Read(ref reader) == JsonTokenType.StartObject)
        {
            var elementStart = start + (int)reader.TokenStartIndex;
            Guid? tenant = null;
            while (Read(ref reader) == JsonTokenType.PropertyName)
            {
                var isTenantId = reader.ValueTextEquals("tenantId"u8);
                Read(ref reader);
                if (isTenantId && reader.TokenType == JsonTokenType.String && Guid.TryParse(reader.GetString(), out var id))
                {
                    tenant = id;
                }

                reader.Skip();
            }

            _partners.Add(new PartnerSlot { Bytes = new Range(elementStart, start + (int)reader.BytesConsumed), Tenant = tenant });
        }
    }

    /// <summary>Reads the value after a property name; returns where it lies and what kind of token starts it.</summary>
    private static Range ReadValue(ref Utf8JsonReader reader, out JsonTokenType kind)
    {
        kind = Read(ref reader);
        var start = (int)reader.TokenStartIndex;
        reader.Skip();
        return new Range(start, (int)reader.BytesConsumed);
    }

    private static JsonTokenType Read(ref Utf8JsonReader reader)
        => reader.Read() ? reader.TokenType : throw new JsonException("The policy document ended early.");

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType expected)
    {
        if (Read(ref reader) != expected)
        {
            throw new JsonException($"The policy document has {reader.TokenType} where {expected} belongs.");
        }
    }

    /// <summary>Every partner slot, removed ones too; the document's partners are found on the first call.</summary>
    private List<PartnerSlot> Partners
    {
        get
        {
            if (!_partnersRead)
            {
                _partnersRead = true;
                if (_partnersMember >= 0)
                {
                    ReadPartners(_members[_partnersMember].Value);
                }
            }

            return _partners;
        }
    }

    private PartnerSlot Slot(int index)
    {
        var partners = Partners;
        if (_removed == 0 && (uint)index < (uint)partners.Count)
        {
            return partners[index];
        }

        var seen = 0;
        foreach (var slot in partners)
        {
            if (!slot.Removed && seen++ == index)
            {
                return slot;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(index), index, $"The policy holds {PartnerCount} partners.");
    }

    private readonly record struct TopLevelMember(string Name, Range Value);

    private sealed class PartnerSlot
    {
        /// <summary>Where the partner is in the document read; null for one the edit added.</summary>
        public Range? Bytes { get; init; }

        public Guid? Tenant { get; init; }

        /// <summary>The partner as a node, once the edit has asked for it (then written from it).</summary>
        public JsonObject? Node { get; set; }

        public bool Removed { get; set; }
    }
}
