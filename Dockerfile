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
# The published app reads appsettings.json from its content root (/app). The policy path in appsettings.json is
# relative to the repository; in the image the sample policy sits beside the app. Mount your own and point at it.
ENV ASPNETCORE_ENVIRONMENT=Production \
    ASPNETCORE_URLS=http://+:8080 \
    Xtac__Management__Urls=http://+:5081 \
    Xtac__Policy__Path=/app/Samples/policy.json \
    Xtac__SampleApp__Enabled=false
EXPOSE 8080 5081
USER $APP_UID
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["dotnet", "/app/XtacGateway.dll", "healthcheck", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["dotnet", "/app/XtacGateway.dll"]
