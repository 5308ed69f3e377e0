using System.Text.Json;
using System.Text.Json.Serialization;

namespace XtacGateway.Policy.Model;

// The Microsoft Graph resources of /policies/crossTenantAccessPolicy, property for property.
// Every type keeps the properties it does not know in AdditionalData so that a document read and
// written again gives back everything it held (tenantRestrictions, @odata.*, future additions).
// AdditionalData has a setter because System.Text.Json cannot fill extension data through init-only members.

/// <summary>A policy document: the default configuration and the partner configurations.</summary>
public sealed record PolicyDocument
{
    [JsonPropertyName("default")]
    public CrossTenantAccessPolicyConfigurationDefault? Default { get; init; }

    [JsonPropertyName("partners")]
    public IReadOnlyList<CrossTenantAccessPolicyConfigurationPartner> Partners { get; init; } = [];

    /// <summary>Properties of Graph's list envelope when <c>partners</c> was read as <c>{"@odata.context": ..., "value": [...]}</c>; null when it was a plain array.</summary>
    [JsonIgnore]
    public IReadOnlyDictionary<string, JsonElement>? PartnersEnvelope { get; init; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? AdditionalData { get; set; }
}

/// <summary>Graph's <c>crossTenantAccessPolicyConfigurationDefault</c>.</summary>
public sealed record CrossTenantAccessPolicyConfigurationDefault
{
    [JsonPropertyName("isServiceDefault")]
    public bool? IsServiceDefault { get; init; }

    [JsonPropertyName("inboundTrust")]
    public CrossTenantAccessPolicyInboundTrust? InboundTrust { get; init; }

    [JsonPropertyName("automaticUserConsentSettings")]
    public InboundOutboundPolicyConfiguration? AutomaticUserConsentSettings { get; init; }

    [JsonPropertyName("b2bDirectConnectInbound")]
    public CrossTenantAccessPolicyB2BSetting? B2bDirectConnectInbound { get; init; }

    [JsonPropertyName("b2bDirectConnectOutbound")]
    public CrossTenantAccessPolicyB2BSetting? B2bDirectConnectOutbound { get; init; }

    [JsonPropertyName("b2bCollaborationInbound")]
    public CrossTenantAccessPolicyB2BSetting? B2bCollaborationInbound { get; init; }

    [JsonPropertyName("b2bCollaborationOutbound")]
    public CrossTenantAccessPolicyB2BSetting? B2bCollaborationOutbound { get; init; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? AdditionalData { get; set; }
}

/// <summary>Graph's <c>crossTenantAccessPolicyConfigurationPartner</c>; a null setting is inherited from the default.</summary>
public sealed record CrossTenantAccessPolicyConfigurationPartner
{
    [JsonPropertyName("tenantId")]
    public string? TenantId { get; init; }

    [JsonPropertyName("isServiceProvider")]
    public bool? IsServiceProvider { get; init; }

    [JsonPropertyName("isInMultiTenantOrganization")]
    public bool? IsInMultiTenantOrganization { get; init; }

    [JsonPropertyName("inboundTrust")]
    public CrossTenantAccessPolicyInboundTrust? InboundTrust { get; init; }

    [JsonPropertyName("automaticUserConsentSettings")]
    public InboundOutboundPolicyConfiguration? AutomaticUserConsentSettings { get; init; }

    [JsonPropertyName("b2bDirectConnectInbound")]
    public CrossTenantAccessPolicyB2BSetting? B2bDirectConnectInbound { get; init; }

    [JsonPropertyName("b2bDirectConnectOutbound")]
    public CrossTenantAccessPolicyB2BSetting? B2bDirectConnectOutbound { get; init; }

    [JsonPropertyName("b2bCollaborationInbound")]
    public CrossTenantAccessPolicyB2BSetting? B2bCollaborationInbound { get; init; }

    [JsonPropertyName("b2bCollaborationOutbound")]
    public CrossTenantAccessPolicyB2BSetting? B2bCollaborationOutbound { get; init; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? AdditionalData { get; set; }
}

/// <summary>Graph's <c>crossTenantAccessPolicyB2BSetting</c>.</summary>
public sealed record CrossTenantAccessPolicyB2BSetting
{
    [JsonPropertyName("usersAndGroups")]
    public CrossTenantAccessPolicyTargetConfiguration? UsersAndGroups { get; init; }

    [JsonPropertyName("applications")]
    public CrossTenantAccessPolicyTargetConfiguration? Applications { get; init; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? AdditionalData { get; set; }
}

/// <summary>Graph's <c>crossTenantAccessPolicyTargetConfiguration</c>.</summary>
public sealed record CrossTenantAccessPolicyTargetConfiguration
{
    [JsonPropertyName("accessType")]
    public string? AccessType { get; init; }

    [JsonPropertyName("targets")]
    public IReadOnlyList<CrossTenantAccessPolicyTarget>? Targets { get; init; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? AdditionalData { get; set; }
}

/// <summary>Graph's <c>crossTenantAccessPolicyTarget</c>.</summary>
public sealed record CrossTenantAccessPolicyTarget
{
    [JsonPropertyName("target")]
    public string? Target { get; init; }

    [JsonPropertyName("targetType")]
    public string? TargetType { get; init; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? AdditionalData { get; set; }
}

/// <summary>Graph's <c>crossTenantAccessPolicyInboundTrust</c>; a null field is inherited from the default.</summary>
public sealed record CrossTenantAccessPolicyInboundTrust
{
    [JsonPropertyName("isMfaAccepted")]
    public bool? IsMfaAccepted { get; init; }

    [JsonPropertyName("isCompliantDeviceAccepted")]
    public bool? IsCompliantDeviceAccepted { get; init; }

    [JsonPropertyName("isHybridAzureADJoinedDeviceAccepted")]
    public bool? IsHybridAzureADJoinedDeviceAccepted { get; init; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? AdditionalData { get; set; }
}

/// <summary>Graph's <c>inboundOutboundPolicyConfiguration</c> (automatic user consent).</summary>
public sealed record InboundOutboundPolicyConfiguration
{
    [JsonPropertyName("inboundAllowed")]
    public bool? InboundAllowed { get; init; }

    [JsonPropertyName("outboundAllowed")]
    public bool? OutboundAllowed { get; init; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? AdditionalData { get; set; }
}

/// <summary>Graph's list response for partners: <c>{"@odata.context": ..., "value": [...]}</c>.</summary>
public sealed record PartnerCollectionResponse
{
    [JsonPropertyName("value")]
    public IReadOnlyList<CrossTenantAccessPolicyConfigurationPartner> Value { get; init; } = [];

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? AdditionalData { get; set; }
}
