# syntax=docker/dockerfile:1
# Build with the SDK, run on the ASP.NET runtime as a non-root user.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props .editorconfig XtacGateway.sln appsettings.json ./
COPY src/XtacGateway.Policy/XtacGateway.Policy.csproj src/XtacGateway.Policy/
COPY src/XtacGateway/XtacGateway.csproj src/XtacGateway/
RUN dotnet restore src/XtacGateway/XtacGateway.csproj
COPY src/ src/
RUN dotnet publish src/XtacGateway/XtacGateway.csproj -c Release -o /app --no-restore

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app ./
# The app (/app) stays read-only to the app user. What the gateway writes lives in /var/lib/xtac, which it owns: the
# policy file admin changes are saved to (seeded with the sample policy; mount your own), and, as LocalApplicationData
# through XDG_DATA_HOME, the audit log and the last-known-good policy of the Redis and Graph sources.
RUN mkdir -p /var/lib/xtac \
    && cp /app/Samples/policy.json /var/lib/xtac/policy.json \
    && chown -R "$APP_UID" /var/lib/xtac
VOLUME /var/lib/xtac
# The published app reads appsettings.json from its content root (/app); the policy path there is relative to the
# repository, so the image names its own. The identity and routes there are the repository's samples: the gateway
# refuses the sample AzureAd:ClientId outside Development, so a run must give its own (README, "Container").
ENV ASPNETCORE_ENVIRONMENT=Production \
    ASPNETCORE_URLS=http://+:8080 \
    XDG_DATA_HOME=/var/lib/xtac \
    Xtac__Management__Urls=http://+:5081 \
    Xtac__Policy__Path=/var/lib/xtac/policy.json \
    Xtac__SampleApp__Enabled=false
EXPOSE 8080 5081
USER $APP_UID
# The start period covers a policy source's wait at start-up (StartupWait: Graph's 60 s, Redis's 5 s by default),
# during which nothing listens yet.
HEALTHCHECK --interval=15s --timeout=3s --start-period=90s --retries=3 \
  CMD ["dotnet", "/app/XtacGateway.dll", "healthcheck", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["dotnet", "/app/XtacGateway.dll"]
