using System.Text.Json;
using System.Text.Json.Nodes;
using XtacGateway.Policy.Claims;
using XtacGateway.Policy.Compilation;
using XtacGateway.Policy.Model;
using XtacGateway.Policy.Validation;

namespace XtacGateway.Policy.Tests;

/// <summary>The fixed identifiers every test uses.</summary>
internal static class Ids
{
    public static readonly Guid ResourceTenant = new("11111111-1111-4111-8111-111111111111");
    public static readonly Guid PartnerTenant = new("22222222-2222-4222-8222-222222222222");
    public static readonly Guid OtherPartnerTenant = new("33333333-3333-4333-8333-333333333333");
    public static readonly Guid UnknownTenant = new("44444444-4444-4444-8444-444444444444");
    public static readonly Guid ConsumerTenant = new("9188040d-6c67-4c5b-b112-36a304b66dad");

    public static readonly Guid G1 = new("aaaaaaaa-0000-4000-8000-000000000001");
    public static readonly Guid G2 = new("aaaaaaaa-0000-4000-8000-000000000002");

    public static readonly Guid A1 = new("bbbbbbbb-0000-4000-8000-000000000001");
    public static readonly Guid A2 = new("bbbbbbbb-0000-4000-8000-000000000002");

    public static readonly Guid U1 = new("cccccccc-0000-4000-8000-000000000001");
    public static readonly Guid U2 = new("cccccccc-0000-4000-8000-000000000002");
}

/// <summary>Builds policy documents in Graph's JSON shape. Every builder copies the nodes it is given, so they can be reused.</summary>
internal static class PolicyJson
{
    public static JsonObject Target(string target, string targetType)
        => new() { ["target"] = target, ["targetType"] = targetType };

    public static JsonObject AllUsers() => Target("AllUsers", "user");

    public static JsonObject User(Guid id) => Target(id.ToString(), "user");

    public static JsonObject Group(Guid id) => Target(id.ToString(), "group");

    public static JsonObject AllApplications() => Target("AllApplications", "application");

    public static JsonObject App(Guid id) => Target(id.ToString(), "application");

    public static JsonObject Half(string accessType, params JsonObject[] targets)
        => new() { ["accessType"] = accessType, ["targets"] = new JsonArray([.. targets.Select(Copy)]) };

    public static JsonObject Allowed(params JsonObject[] targets) => Half("allowed", targets);

    public static JsonObject Blocked(params JsonObject[] targets) => Half("blocked", targets);

    /// <summary>A B2B setting; a null half is left out (inherited).</summary>
    public static JsonObject Setting(JsonObject? usersAndGroups, JsonObject? applications)
    {
        var setting = new JsonObject();
        if (usersAndGroups is not null)
        {
            setting["usersAndGroups"] = Copy(usersAndGroups);
        }

        if (applications is not null)
        {
            setting["applications"] = Copy(applications);
        }

        return setting;
    }

    public static JsonObject BlockAll() => Setting(Blocked(AllUsers()), Blocked(AllApplications()));

    public static JsonObject AllowAll() => Setting(Allowed(AllUsers()), Allowed(AllApplications()));

    public static JsonObject Trust(bool? mfa, bool? compliantDevice, bool? hybridJoinedDevice) => new()
    {
        ["isMfaAccepted"] = mfa,
        ["isCompliantDeviceAccepted"] = compliantDevice,
        ["isHybridAzureADJoinedDeviceAccepted"] = hybridJoinedDevice,
    };

    /// <summary>Graph's service default: direct connect blocked both ways, collaboration allowed, no trust.</summary>
    public static JsonObject ServiceDefault() => new()
    {
        ["isServiceDefault"] = true,
        ["inboundTrust"] = Trust(false, false, false),
        ["automaticUserConsentSettings"] = new JsonObject { ["inboundAllowed"] = false, ["outboundAllowed"] = false },
        ["b2bDirectConnectInbound"] = BlockAll(),
        ["b2bDirectConnectOutbound"] = BlockAll(),
        ["b2bCollaborationInbound"] = AllowAll(),
        ["b2bCollaborationOutbound"] = AllowAll(),
    };

    /// <summary>The service default with its inbound direct connect setting and/or trust replaced.</summary>
    public static JsonObject Default(JsonObject? directConnectInbound = null, JsonObject? inboundTrust = null)
    {
        var result = ServiceDefault();
        result["isServiceDefault"] = false;
        if (directConnectInbound is not null)
        {
            result["b2bDirectConnectInbound"] = Copy(directConnectInbound);
        }

        if (inboundTrust is not null)
        {
            result["inboundTrust"] = Copy(inboundTrust);
        }

        return result;
    }

    /// <summary>A partner whose settings not given are null (inherited from the default).</summary>
    public static JsonObject Partner(Guid tenantId, JsonObject? directConnectInbound = null, JsonObject? inboundTrust = null) => new()
    {
        ["tenantId"] = tenantId.ToString(),
        ["isServiceProvider"] = false,
        ["isInMultiTenantOrganization"] = false,
        ["inboundTrust"] = Copy(inboundTrust),
        ["automaticUserConsentSettings"] = null,
        ["b2bDirectConnectInbound"] = Copy(directConnectInbound),
        ["b2bDirectConnectOutbound"] = null,
        ["b2bCollaborationInbound"] = null,
        ["b2bCollaborationOutbound"] = null,
    };

    public static JsonObject Document(JsonObject defaults, params JsonObject[] partners) => new()
    {
        ["default"] = Copy(defaults),
        ["partners"] = new JsonArray([.. partners.Select(Copy)]),
    };

    public static PolicyParseResult Parse(JsonNode document, Guid? resourceTenantId = null)
        => PolicyParser.Parse(document.ToJsonString(), resourceTenantId ?? Ids.ResourceTenant);

    public static PolicyDocument ParseValid(JsonNode document)
    {
        var result = Parse(document);
        Assert.True(result.IsValid, "Expected a valid document, got: " + string.Join(Environment.NewLine, result.Errors));
        return result.Document!;
    }

    /// <summary>Validates and compiles <paramref name="document"/> for <see cref="Ids.ResourceTenant"/>.</summary>
    public static PolicySnapshot Compile(JsonNode document)
        => PolicyCompiler.Compile(ParseValid(document), Ids.ResourceTenant);

    /// <summary>A policy whose default allows all, with the partner tenant's direct connect inbound setting.</summary>
    public static PolicySnapshot PartnerSnapshot(JsonObject directConnectInbound)
        => Compile(Document(Default(AllowAll()), Partner(Ids.PartnerTenant, directConnectInbound)));

    private static JsonNode? Copy(JsonNode? node) => node?.DeepClone();
}

/// <summary>Builds token claims and reads them into <see cref="CallerFacts"/>.</summary>
internal static class Tokens
{
    /// <summary>A token issued by the caller's home tenant (a multi-tenant app's token).</summary>
    public static JsonObject Member(Guid tenantId, Guid? objectId = null) => new()
    {
        ["tid"] = tenantId.ToString(),
        ["iss"] = $"https://sts.windows.net/{tenantId}/",
        ["oid"] = (objectId ?? Ids.U1).ToString(),
    };

    /// <summary>A guest token: issued by <paramref name="issuerTenant"/>, the user homed in <paramref name="homeTenant"/>.</summary>
    public static JsonObject Guest(Guid issuerTenant, Guid homeTenant, Guid? homeObjectId = null)
    {
        var claims = new JsonObject
        {
            ["tid"] = issuerTenant.ToString(),
            ["iss"] = $"https://sts.windows.net/{issuerTenant}/",
            ["idp"] = $"https://sts.windows.net/{homeTenant}/",
            ["oid"] = "dddddddd-0000-4000-8000-000000000009",
        };
        if (homeObjectId is { } oid)
        {
            claims["home_oid"] = oid.ToString();
        }

        return claims;
    }

    public static JsonObject With(this JsonObject claims, string name, JsonNode? value)
    {
        claims[name] = value;
        return claims;
    }

    public static JsonArray Array(params string[] values) => new([.. values.Select(v => (JsonNode?)v)]);

    public static JsonArray Groups(params Guid[] groups) => Array([.. groups.Select(g => g.ToString())]);

    public static CallerFacts Read(string claimsJson, ClaimNames? names = null)
    {
        using var document = JsonDocument.Parse(claimsJson);
        return new CallerFactsReader(names ?? ClaimNames.Default).Read(new JsonClaimSource(document.RootElement));
    }

    public static CallerFacts Read(JsonNode claims, ClaimNames? names = null) => Read(claims.ToJsonString(), names);
}
