#!/usr/bin/env bash
# Two XtacGateway processes side by side (scenario 4's set-up), measured in interleaved wrk rounds, so that the
# machine's slow spells fall on both alike. Each gets the arguments after its "--".
#   loadtests/scripts/side-by-side.sh ROUNDS -- [ARGS A...] -- [ARGS B...]      (run loadtests/run.sh once first)
# Example: the cost of logging every denial
#   loadtests/scripts/side-by-side.sh 4 -- -- --Logging:LogLevel:XtacGateway.Enforcement=Warning
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd); work="$root/loadtests/.work"; rounds=$1; shift; shift
a=(); while [[ $1 != -- ]]; do a+=("$1"); shift; done; shift; b=("$@")
hosts=(dotnet "$root/loadtests/XtacGateway.LoadHosts/bin/Release/net10.0/XtacGateway.LoadHosts.dll")
gateway_dir="$root/src/XtacGateway/bin/Release/net10.0"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
"${hosts[@]}" backend --urls http://127.0.0.1:18180 >"$work/logs/side-backend.log" 2>&1 & pids+=($!)
token=$(awk '$1 == "allowed" { print $3; exit }' "$work/tokens.txt")
gateway() { # gateway PORT ARGS...
  local port=$1; shift
  (cd "$gateway_dir" && exec dotnet XtacGateway.dll --urls "http://127.0.0.1:$port" --environment Development \
    "--Xtac:Management:Urls=http://127.0.0.1:$((port + 1))" --Xtac:SampleApp:Enabled=false \
    "--Xtac:Policy:Path=$work/policy-a.json" "--Xtac:DevelopmentIssuer:KeyPath=$work/dev-issuer-keys.pem" \
    --ReverseProxy:Clusters:sample-app:Destinations:sample:Address=http://127.0.0.1:18180/ "$@") >"$work/logs/side-$port.log" 2>&1 &
  pids+=($!)
}
gateway 18182 ${a[@]+"${a[@]}"}; gateway 18192 ${b[@]+"${b[@]}"}
for port in 18182 18192; do
  for _ in $(seq 1 300); do
    [[ $(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$port/items/0") == 200 ]] && break
    sleep 0.2
  done
  [[ $(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$port/items/0") == 200 ]] \
    || { echo "the gateway on port $port never answered 200; not measuring it" >&2; exit 1; }
done
run() { # run PORT SECONDS: prints requests/s and p99 (µs)
  XTAC_TOKENS="$work/tokens.txt" wrk -t2 -c32 -d"$2s" -s loadtests/scripts/tokens.lua "http://127.0.0.1:$1" \
    | sed -n 's/^XTAC_RESULT //p' | grep -o '"rps":[0-9.]*\|"p99":[0-9]*' | paste -sd' '
}
run 18182 10 >/dev/null; run 18192 10 >/dev/null
for ((r = 0; r < rounds; r++)); do echo "A $(run 18182 5)   B $(run 18192 5)"; done
