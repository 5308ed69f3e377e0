#!/usr/bin/env bash
# CPU time per request of plain YARP and XtacGateway, both loaded at the same time (one wrk each, 1 thread,
# 16 connections) so that this machine's slow spells fall on both alike. Reads utime+stime from /proc.
#   loadtests/scripts/cpu-per-request.sh ROUNDS [TOKENS-FILE] [-- GATEWAY ARGS...]   (run loadtests/run.sh once first)
# TOKENS-FILE is a file under loadtests/.work (default tokens.txt; e.g. grep '^allowed ' tokens.txt > tokens-allowed.txt).
# XTAC_PERF=1 also samples both processes with perf (package linux-perf) during each round and prints where each
# spends its time per request: by module (managed code by assembly, native code by library, the kernel) and the
# symbols that differ most.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd); work="$root/loadtests/.work"; rounds=$1; shift
# The tokens file is optional: "ROUNDS -- ARGS" goes straight to the gateway's arguments.
tokens=tokens.txt
if (($#)) && [[ $1 != -- ]]; then tokens=$1; shift; fi
[[ ${1:-} == -- ]] && shift
profile=${XTAC_PERF:-0}
if ((profile)); then
  command -v perf >/dev/null || { echo "XTAC_PERF=1 needs perf (apt-get install -y linux-perf)" >&2; exit 1; }
  # perf reads JIT-compiled method names from /tmp/perf-PID.map; W^X off keeps code addresses stable for it.
  export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
fi
hosts=(dotnet "$root/loadtests/XtacGateway.LoadHosts/bin/Release/net10.0/XtacGateway.LoadHosts.dll")
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
"${hosts[@]}" backend --urls http://127.0.0.1:18480 >"$work/logs/cpu-backend.log" 2>&1 & pids+=($!)
"${hosts[@]}" plain-yarp --urls http://127.0.0.1:18485 --backend http://127.0.0.1:18480/ >"$work/logs/cpu-yarp.log" 2>&1 & yarp=$!; pids+=($yarp)
(cd "$root/src/XtacGateway/bin/Release/net10.0" && exec dotnet XtacGateway.dll --urls http://127.0.0.1:18482 --environment Development \
  --Xtac:Management:Urls=http://127.0.0.1:18483 --Xtac:SampleApp:Enabled=false "--Xtac:Policy:Path=$work/policy-a.json" \
  "--Xtac:DevelopmentIssuer:KeyPath=$work/dev-issuer-keys.pem" --ReverseProxy:Clusters:sample-app:Destinations:sample:Address=http://127.0.0.1:18480/ "$@") \
  >"$work/logs/cpu-gateway.log" 2>&1 & gateway=$!; pids+=($gateway)
for port in 18485 18482; do
  for _ in $(seq 1 300); do curl -s -m 5 -o /dev/null http://127.0.0.1:$port/ && break; sleep 0.2; done
  curl -s -m 5 -o /dev/null http://127.0.0.1:$port/ || { echo "nothing answers on port $port; not measuring it" >&2; exit 1; }
done
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
load() { # PORT SECONDS OUT: writes the number of requests completed
  XTAC_TOKENS="$work/$tokens" wrk -t1 -c16 -d"$2s" -s loadtests/scripts/tokens.lua "http://127.0.0.1:$1" \
    | sed -n 's/^XTAC_RESULT //p' | grep -o '"requests":[0-9]*' | cut -d: -f2 >"$3"
}
breakdown() { # DATA YARP_REQUESTS GATEWAY_REQUESTS SAMPLES_PER_SECOND: microseconds per request by module and by symbol, largest differences first
  perf script -i "$1" -F pid,ip,sym,dso 2>/dev/null | awk -v y=$yarp -v g=$gateway -v yr=$2 -v gr=$3 -v hz=$4 '
    { pid = $1; dso = $NF; sym = $0; sub(/^ *[0-9]+ +[0-9a-f]+ /, "", sym); sub(/ +\([^()]*\)$/, "", sym)
      if (dso ~ /perf-[0-9]+\.map/) { module = match(sym, /\[[^]]+\] [^ []+::/) ? substr(sym, RSTART + 1, index(substr(sym, RSTART), "]") - 2) : "(jitted stubs)" }
      else { module = dso; gsub(/[()]/, "", module); sub(/.*\//, "", module) }
      side = pid == y ? 1 : pid == g ? 2 : 0; if (!side) next
      m[module, side]++; modules[module]; s[sym, side]++; symbols[sym] }
    function show(title, keys, counts,   k, n, line) {
      printf "%s\n%10s %10s %10s\n", title, "yarp us", "gateway us", "difference"
      n = 0; for (k in keys) { d = counts[k, 2] / gr * us - counts[k, 1] / yr * us; line[++n] = sprintf("%10.2f %10.2f %+10.2f  %s", counts[k, 1] / yr * us, counts[k, 2] / gr * us, d, substr(k, 1, 140)) }
      cmd = "sort -k3,3gr | head -15"; for (i = 1; i <= n; i++) print line[i] | cmd; close(cmd) }
    END { us = 1e6 / hz; show("per request, by module:", modules, m); show("per request, by symbol:", symbols, s) }'
}
hz=$(getconf CLK_TCK)
load 18485 15 /dev/null & warm=$!; load 18482 15 /dev/null; wait $warm
echo "round  yarp req  yarp us/req  gateway req  gateway us/req  gateway/yarp"
for ((r = 1; r <= rounds; r++)); do
  y0=$(ticks $yarp); g0=$(ticks $gateway)
  if ((profile)); then perf record -q -F 999 -p "$yarp,$gateway" -o "$work/cpu-round-$r.perf" -- sleep 8 2>/dev/null & recorder=$!; fi
  load 18485 8 "$work/cpu-yarp.req" & l=$!; load 18482 8 "$work/cpu-gateway.req"; wait $l
  y1=$(ticks $yarp); g1=$(ticks $gateway); yr=$(cat "$work/cpu-yarp.req"); gr=$(cat "$work/cpu-gateway.req")
  awk -v r=$r -v yr=$yr -v gr=$gr -v yt=$((y1 - y0)) -v gt=$((g1 - g0)) -v hz=$hz 'BEGIN {
    y = yt / hz / yr * 1e6; g = gt / hz / gr * 1e6; printf "%5d  %8d  %11.1f  %11d  %14.1f  %12.3f\n", r, yr, y, gr, g, g / y }'
  if ((profile)); then wait $recorder; breakdown "$work/cpu-round-$r.perf" "$yr" "$gr" 999; fi
done
