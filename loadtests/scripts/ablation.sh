#!/usr/bin/env bash
# Where does scenario 4's time go? Runs XtacGateway (scenario 4's set-up) with parts of its telemetry switched off
# through configuration only, back to back with plain YARP, and prints requests/s and p99 for each variant.
#   loadtests/scripts/ablation.sh [SECONDS]      (run loadtests/run.sh once first: it builds and mints)
# With XTAC_TRACE=1 it also records a 10 s CPU sample of the as-shipped gateway with dotnet-trace.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd); work="$root/loadtests/.work"; seconds=${1:-8}
hosts=(dotnet "$root/loadtests/XtacGateway.LoadHosts/bin/Release/net10.0/XtacGateway.LoadHosts.dll")
gateway_dir="$root/src/XtacGateway/bin/Release/net10.0"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
start() { local name=$1; shift; ("$@") >"$work/logs/ablation-$name.log" 2>&1 & started=$!; pids+=("$started"); }
ready() { for _ in $(seq 1 300); do [[ $(curl -s -o /dev/null -w '%{http_code}' ${2:+-H "Authorization: Bearer $2"} "$1") == 200 ]] && return 0; sleep 0.2; done; echo "not ready: $1" >&2; exit 1; }
token=$(awk '$1 == "allowed" { print $3; exit }' "$work/tokens.txt")
measure() { # measure LABEL URL PID
  XTAC_TOKENS="$work/tokens.txt" wrk -t2 -c32 -d10s -s loadtests/scripts/tokens.lua "$2" >/dev/null
  local line; line=$(XTAC_TOKENS="$work/tokens.txt" wrk -t2 -c32 -d"${seconds}s" -s loadtests/scripts/tokens.lua "$2" | sed -n 's/^XTAC_RESULT //p')
  printf '%-58s %8s req/s  p99 %6.2f ms  RSS %4d MB\n' "$1" "$(grep -o '"rps":[0-9]*' <<<"$line" | cut -d: -f2)" \
    "$(grep -o '"p99":[0-9]*' <<<"$line" | cut -d: -f2 | awk '{ print $1 / 1000 }')" "$(awk '/VmHWM/ { print int($2 / 1024) }' /proc/$3/status)"
}
start backend "${hosts[@]}" backend --urls http://127.0.0.1:18180; backend=$started; ready http://127.0.0.1:18180/
start plain "${hosts[@]}" plain-yarp --urls http://127.0.0.1:18181 --backend http://127.0.0.1:18180/; plain=$started; ready http://127.0.0.1:18181/
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
measure "plain YARP" http://127.0.0.1:18181 "$plain"; kill "$plain"
variant() { # variant LABEL [ENV=VALUE...] -- [GATEWAY ARGS...]
  local label=$1; shift; local envs=()
  while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done; shift || true
  start gw env "${envs[@]}" bash -c 'cd "$0" && exec dotnet XtacGateway.dll "$@"' "$gateway_dir" \
    --urls http://127.0.0.1:18182 --environment Development --Xtac:Management:Urls=http://127.0.0.1:18183 \
    --Xtac:SampleApp:Enabled=false "--Xtac:Policy:Path=$work/policy-a.json" "--Xtac:DevelopmentIssuer:KeyPath=$work/dev-issuer-keys.pem" \
    --ReverseProxy:Clusters:sample-app:Destinations:sample:Address=http://127.0.0.1:18180/ "$@"
  local gw=$started; ready http://127.0.0.1:18182/items/0 "$token"
  if [[ ${XTAC_TRACE:-0} == 1 && $label == "as shipped" ]]; then
    XTAC_TOKENS="$work/tokens.txt" wrk -t2 -c32 -d14s -s loadtests/scripts/tokens.lua http://127.0.0.1:18182 >/dev/null &
    sleep 3; ~/.dotnet/tools/dotnet-trace collect -p "$gw" --profile dotnet-sampled-thread-time --duration 00:00:00:10 -o "$work/gateway.nettrace" >/dev/null 2>&1 || echo "dotnet-trace failed"
    wait $!
  fi
  measure "$label" http://127.0.0.1:18182 "$gw"; kill "$gw"; wait "$gw" 2>/dev/null || true
}
quiet_logs=(--Logging:LogLevel:Default=Warning --Logging:LogLevel:XtacGateway.Enforcement=Warning)
variant "as shipped"
variant "logs at Warning" -- "${quiet_logs[@]}"
variant "OpenTelemetry SDK disabled (OTEL_SDK_DISABLED)" OTEL_SDK_DISABLED=true --
variant "logs at Warning + OTEL_SDK_DISABLED" OTEL_SDK_DISABLED=true -- "${quiet_logs[@]}"
