#!/usr/bin/env bash
# Load tests: XtacGateway against the backend alone, plain YARP and YARP with per-request JwtBearer validation.
#   loadtests/run.sh [--quick]
# Builds Release, starts every process on 127.0.0.1, runs scenarios 1-6 of issue 6 with the same wrk settings,
# prints one table and writes loadtests/results/load-<timestamp>.json (full runs also latest.json / latest.md;
# quick runs write load-<timestamp>-quick.json).
# Scenarios 1, 2, 3, 4 and 6 run side by side in interleaved rounds (each round measures each of them once, in
# a random order, one second apart), because this machine's speed swings for seconds at a time: a slow spell then falls on every
# scenario alike instead of on whichever one happened to be running. Scenario 5 runs on its own afterwards.
set -euo pipefail

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h|--help) sed -n 2,5p "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
root=$(pwd)
work="$root/loadtests/.work"
results="$root/loadtests/results"
mkdir -p "$work/logs" "$results"
rm -f "$work"/scenario-*.json

threads=${XTAC_LOAD_THREADS:-2}
connections=${XTAC_LOAD_CONNECTIONS:-32}
# Warm-up long enough for tiered JIT to reach tier 1 on a busy 2-core machine (the gateway has far more code than plain YARP).
# duration is per round; rounds x duration is each scenario's measured time. Ten rounds: with six, one slow or fast
# spell in a round moved a run's overall ratios by several percent (findings.md).
if ((quick)); then duration=${XTAC_LOAD_DURATION:-3}; rounds=${XTAC_LOAD_ROUNDS:-2}; warmup=3
else duration=${XTAC_LOAD_DURATION:-5}; rounds=${XTAC_LOAD_ROUNDS:-10}; warmup=20; fi
mode=$([[ $quick == 1 ]] && echo quick || echo full)

if ! command -v wrk >/dev/null; then
  echo "installing wrk..."
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=$([[ $(id -u) == 0 ]] && echo "" || echo sudo)
  $sudo_cmd apt-get update -q >/dev/null && $sudo_cmd apt-get install -y -q wrk >/dev/null
fi

# ---- processes: every one is recorded and killed on exit ---------------------------------------------------
pids=()
rewriter=""
cleanup() {
  [[ -n "$rewriter" ]] && kill "$rewriter" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  local port
  for ((port = $1; port < $1 + 200; port++)); do
    if ! (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then echo "$port"; return; fi
  done
  echo "no free port from $1" >&2; exit 1
}

start() { # start NAME CWD COMMAND...; sets $started to the pid
  local name=$1 dir=$2; shift 2
  (cd "$dir" && exec "$@") >"$work/logs/$name.log" 2>&1 &
  started=$!
  pids+=("$started")
}

stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

wait_status() { # wait_status URL EXPECTED [TOKEN]
  local url=$1 expected=$2 token=${3:-} code
  for _ in $(seq 1 300); do
    code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' ${token:+-H "Authorization: Bearer $token"} "$url" || true)
    [[ "$code" == "$expected" ]] && return 0
    sleep 0.2
  done
  echo "timed out waiting for $url to answer $expected (last: $code)" >&2
  exit 1
}

# ---- build and fixtures ------------------------------------------------------------------------------------
echo "== building Release"
dotnet build loadtests/XtacGateway.LoadHosts/XtacGateway.LoadHosts.csproj -c Release -nologo -v q -clp:ErrorsOnly
hosts=(dotnet "$root/loadtests/XtacGateway.LoadHosts/bin/Release/net10.0/XtacGateway.LoadHosts.dll")
gateway_dir="$root/src/XtacGateway/bin/Release/net10.0"
key="$work/dev-issuer-keys.pem"

echo "== minting 1,000 tokens and writing policies"
"${hosts[@]}" mint --key "$key" --count 1000 --lifetime 7200 --out "$work/tokens.txt"
"${hosts[@]}" policy --partners 0 --out "$work/policy-a.json"
"${hosts[@]}" policy --partners 0 --spare --out "$work/policy-b.json"
[[ -s "$work/policy-100k.json" ]] || "${hosts[@]}" policy --partners 100000 --out "$work/policy-100k.json"
token_of() { awk -v k="$1" '$1 == k { print $3; exit }' "$work/tokens.txt"; }
path_of() { awk -v k="$1" '$1 == k { print $2; exit }' "$work/tokens.txt"; }

backend_port=$(free_port 18080)
start backend "$root" "${hosts[@]}" backend --urls "http://127.0.0.1:$backend_port"
backend_pid=$started
wait_status "http://127.0.0.1:$backend_port/" 200

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
source="commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
[[ -n "$(git status --porcelain -- src 2>/dev/null)" ]] && source="$source plus uncommitted changes in src/"

# ---- measuring ---------------------------------------------------------------------------------------------
warm() { # warm URL: load without measuring, long enough for tiered JIT to finish
  XTAC_TOKENS="$work/tokens.txt" wrk -t"$threads" -c"$connections" -d"${warmup}s" -s loadtests/scripts/tokens.lua "$1" >/dev/null
}

measure() { # measure N URL: one measured round, appended to scenario N's rounds
  local out
  out=$(XTAC_TOKENS="$work/tokens.txt" wrk -t"$threads" -c"$connections" -d"${duration}s" -s loadtests/scripts/tokens.lua "$2")
  sed -n 's/^XTAC_RESULT //p' <<<"$out" >>"$work/scenario-$1.rounds"
}

finish() { # finish N NAME PID [EXTRA_JSON]: writes scenario N's file with its rounds and the process's peak RSS
  local n=$1 name=$2 pid=$3 extra=${4:-} rss
  rss=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
  printf '{"scenario":%d,"name":"%s","rss_peak_kb":%d,"rounds":[%s]%s}\n' "$n" "$name" "$rss" \
    "$(paste -sd, "$work/scenario-$n.rounds")" "${extra:+,$extra}" >"$work/scenario-$n.json"
  echo "   scenario $n: $(grep -o '"rps":[0-9.]*' "$work/scenario-$n.rounds" | cut -d: -f2 | paste -sd' ') requests/s per round"
}

gc_counts() { # gc_counts URL: GC pause seconds and gen0/gen1/gen2 collections so far, from a gateway's /metrics or a host's line
  curl -sf -m 5 "$1" | awk '
    NF == 4 && $1 ~ /^[0-9.eE+-]+$/ { pause = $1; g0 = $2; g1 = $3; g2 = $4; found = 1 }
    /^dotnet_gc_pause_time_seconds_total/ { pause = $NF; found = 1 }
    /^dotnet_gc_collections_total.*gen0/ { g0 = $NF } /^dotnet_gc_collections_total.*gen1/ { g1 = $NF }
    /^dotnet_gc_collections_total.*gen2/ { g2 = $NF }
    END { if (found) printf "%.6f %d %d %d\n", pause, g0, g1, g2 }'
}

gc_since() { # gc_since URL "BEFORE": what the GC did since gc_counts gave BEFORE, as a JSON member
  local before=($2) after
  read -ra after <<<"$(gc_counts "$1")"
  # A scrape that failed (before or now) is no figure: null, shown as "-", rather than zeros or a negative.
  if ((${#before[@]} != 4 || ${#after[@]} != 4)); then printf '"gc":null'; return; fi
  awk -v p0="${before[0]}" -v p1="${after[0]}" -v a0="${before[1]}" -v a1="${after[1]}" -v b0="${before[2]}" -v b1="${after[2]}" \
    -v c0="${before[3]}" -v c1="${after[3]}" \
    'BEGIN { printf "\"gc\":{\"pause_ms\":%.1f,\"gen0\":%d,\"gen1\":%d,\"gen2\":%d}", (p1 - p0) * 1000, a1 - a0, b1 - b0, c1 - c0 }'
}

gateway() { # gateway NAME POLICY [EXTRA ARGS...]: starts XtacGateway from its build output; sets $gw_pid $gw_port $mg_port
  local name=$1 policy=$2; shift 2
  gw_port=$(free_port 18100); mg_port=$(free_port $((gw_port + 1)))
  start "$name" "$gateway_dir" dotnet "$gateway_dir/XtacGateway.dll" \
    --urls "http://127.0.0.1:$gw_port" --environment Development \
    "--Xtac:Management:Urls=http://127.0.0.1:$mg_port" --Xtac:SampleApp:Enabled=false \
    "--Xtac:Policy:Path=$policy" "--Xtac:DevelopmentIssuer:KeyPath=$key" \
    "--ReverseProxy:Clusters:sample-app:Destinations:sample:Address=http://127.0.0.1:$backend_port/" "$@"
  gw_pid=$started
  wait_status "http://127.0.0.1:$gw_port$(path_of allowed)" 200 "$(token_of allowed)"
  # Every kind of token gets its expected answer before the load starts.
  wait_status "http://127.0.0.1:$gw_port$(path_of allowed-mfa)" 200 "$(token_of allowed-mfa)"
  wait_status "http://127.0.0.1:$gw_port$(path_of blocked)" 403 "$(token_of blocked)"
  wait_status "http://127.0.0.1:$gw_port$(path_of mfa-required)" 403 "$(token_of mfa-required)"
}

echo "== scenarios: $threads threads, $connections connections, $rounds rounds of ${duration}s each (+${warmup}s warm-up), load average before: $load_before"
rm -f "$work"/scenario-*.rounds

echo "-- starting plain YARP, YARP + JwtBearer, XtacGateway and XtacGateway with 100,000 partners"
plain_port=$(free_port 18090)
start plain-yarp "$root" "${hosts[@]}" plain-yarp --urls "http://127.0.0.1:$plain_port" --backend "http://127.0.0.1:$backend_port/"
plain_pid=$started; wait_status "http://127.0.0.1:$plain_port/" 200
jwt_port=$(free_port $((plain_port + 1)))
start jwt-yarp "$root" "${hosts[@]}" jwt-yarp --urls "http://127.0.0.1:$jwt_port" --backend "http://127.0.0.1:$backend_port/" --key "$key"
jwt_pid=$started; wait_status "http://127.0.0.1:$jwt_port/" 401; wait_status "http://127.0.0.1:$jwt_port/" 200 "$(token_of blocked)"
gateway xtac "$work/policy-a.json"; xtac_pid=$gw_pid; xtac_port=$gw_port; xtac_mg=$mg_port
gateway xtac-100k "$work/policy-100k.json"; big_pid=$gw_pid; big_port=$gw_port; big_mg=$mg_port

urls=([1]="http://127.0.0.1:$backend_port" [2]="http://127.0.0.1:$plain_port" [3]="http://127.0.0.1:$jwt_port"
      [4]="http://127.0.0.1:$xtac_port" [6]="http://127.0.0.1:$big_port")
order=(1 2 3 4 6)
echo "-- warming up"
for n in "${order[@]}"; do warm "${urls[$n]}"; done
# Each process's GC work over the measured rounds (it idles while other scenarios run, so nearly all of it is its own).
gc_url=([2]="http://127.0.0.1:$plain_port/.load-hosts/gc" [3]="http://127.0.0.1:$jwt_port/.load-hosts/gc"
        [4]="http://127.0.0.1:$xtac_mg/metrics" [6]="http://127.0.0.1:$big_mg/metrics")
declare -A gc_before
for n in 2 3 4 6; do gc_before[$n]=$(gc_counts "${gc_url[$n]}"); done
for ((round = 0; round < rounds; round++)); do
  # A fresh random order each round: a rotating order kept every scenario behind the same predecessor (4 always
  # ran right after 3), and whatever a predecessor leaves behind then falls on one scenario in every round.
  mapfile -t shuffled < <(printf '%s\n' "${order[@]}" | shuf)
  echo "-- round $((round + 1)) of $rounds: ${shuffled[*]}"
  for n in "${shuffled[@]}"; do
    sleep 1 # let the previous scenario's processes settle
    measure "$n" "${urls[$n]}"
  done
done
finish 1 "backend directly" "$backend_pid"
finish 2 "plain YARP" "$plain_pid" "$(gc_since "${gc_url[2]}" "${gc_before[2]}")"
finish 3 "YARP + JwtBearer per request" "$jwt_pid" "$(gc_since "${gc_url[3]}" "${gc_before[3]}")"
finish 4 "XtacGateway" "$xtac_pid" "$(gc_since "${gc_url[4]}" "${gc_before[4]}")"
finish 6 "XtacGateway, 100k partners" "$big_pid" "$(gc_since "${gc_url[6]}" "${gc_before[6]}")"
stop "$plain_pid"; stop "$jwt_pid"; stop "$xtac_pid"; stop "$big_pid"

echo "-- 5 XtacGateway, policy rewritten 10x/s"
rm -f "$work/rewrites"
cp "$work/policy-a.json" "$work/policy-live.json"
gateway xtac-reload "$work/policy-live.json" --Xtac:Policy:FileCheckInterval=00:00:00.050
reloads() { curl -s -m 5 "http://127.0.0.1:$mg_port/metrics" | awk '/^xtac_policy_reloads_total\{.*result="success"/ { n += $NF } END { print n + 0 }'; }
start_rewriter() {
  reloads_before=$(reloads)
  (
    i=0; next=${EPOCHREALTIME/[.,]/}
    while :; do
      if ((i % 2)); then src=policy-a.json; else src=policy-b.json; fi
      cp "$work/$src" "$work/policy-live.json.tmp" && mv -f "$work/policy-live.json.tmp" "$work/policy-live.json"
      i=$((i + 1)); echo "$i" >"$work/rewrites"
      # Ten a second on a schedule, whatever cp and mv cost.
      next=$((next + 100000)); wait_us=$((next - ${EPOCHREALTIME/[.,]/}))
      ((wait_us > 0)) && sleep "0.$(printf '%06d' "$wait_us")"
    done
  ) &
  rewriter=$!
}
stop_rewriter() {
  kill "$rewriter" 2>/dev/null; wait "$rewriter" 2>/dev/null || true; rewriter=""
  sleep 0.3
  printf '"policy_rewrites":%d,"policy_reloads":%d' "$(cat "$work/rewrites")" $(($(reloads) - reloads_before))
}
warm "http://127.0.0.1:$gw_port"
reload_gc=$(gc_counts "http://127.0.0.1:$mg_port/metrics")
start_rewriter
for ((round = 0; round < rounds; round++)); do measure 5 "http://127.0.0.1:$gw_port"; done
finish 5 "XtacGateway, policy reloaded 10x/s" "$gw_pid" "$(stop_rewriter),$(gc_since "http://127.0.0.1:$mg_port/metrics" "$reload_gc")"
stop "$gw_pid"

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
# Only full runs replace latest.json / latest.md; quick runs leave a JSON of their own.
if ((quick)); then json="$results/load-$stamp-quick.json"; md="$work/quick.md"; else json="$results/load-$stamp.json"; md="$results/latest.md"; fi
"${hosts[@]}" report --work "$work" --out "$json" --markdown "$md" \
  --mode "$mode" --threads "$threads" --connections "$connections" --duration "$duration" --rounds "$rounds" \
  --machine "$(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1)" --dotnet "$(dotnet --version)" \
  --date "$(date -u '+%Y-%m-%d %H:%M UTC')" --source "$source" --load-before "$load_before" --load-after "$load_after"
((quick)) || cp "$json" "$results/latest.json"
echo "results: $json"
