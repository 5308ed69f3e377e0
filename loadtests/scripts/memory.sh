#!/usr/bin/env bash
# Peak memory of XtacGateway with the 100,000-partner policy: VmHWM once ready, then after 8 s of scenario 4's load,
# with the GC heap's sizes from /metrics. Extra arguments are environment assignments (DOTNET_gcConcurrent=0, ...).
#   loadtests/scripts/memory.sh [NAME=VALUE...]        (run loadtests/run.sh once first; POLICY=policy-a.json for 2 partners)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd); work="$root/loadtests/.work"
gateway_dir="$root/src/XtacGateway/bin/Release/net10.0"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
dotnet "$root/loadtests/XtacGateway.LoadHosts/bin/Release/net10.0/XtacGateway.LoadHosts.dll" backend --urls http://127.0.0.1:18380 >/dev/null 2>&1 & pids+=($!)
(cd "$gateway_dir" && exec env "$@" dotnet XtacGateway.dll --urls http://127.0.0.1:18382 --environment Development \
  --Xtac:Management:Urls=http://127.0.0.1:18383 --Xtac:SampleApp:Enabled=false "--Xtac:Policy:Path=$work/${POLICY:-policy-100k.json}" \
  "--Xtac:DevelopmentIssuer:KeyPath=$work/dev-issuer-keys.pem" --ReverseProxy:Clusters:sample-app:Destinations:sample:Address=http://127.0.0.1:18380/) \
  >"$work/logs/memory.log" 2>&1 &
gw=$!; pids+=($gw)
for _ in $(seq 1 120); do curl -s -m 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:18383/readyz | grep -q 200 && break; sleep 0.5; done
curl -s -m 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:18383/readyz | grep -q 200 || { echo "the gateway never became ready; not measuring it" >&2; exit 1; }
echo "ready:      $(grep VmHWM /proc/$gw/status)"
XTAC_TOKENS="$work/tokens.txt" wrk -t2 -c32 -d8s -s loadtests/scripts/tokens.lua http://127.0.0.1:18382 | grep "Requests/sec"
echo "after load: $(grep VmHWM /proc/$gw/status), $(grep VmRSS /proc/$gw/status)"
curl -s http://127.0.0.1:18383/metrics | grep -E '^dotnet_gc_(last_collection_heap_size|last_collection_memory_committed)'
