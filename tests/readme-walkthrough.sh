#!/usr/bin/env bash
# Runs README.md's walk-through as written, so it cannot rot: the gateway on its embedded default,
# then the documented calls, each checked for the status and error code README promises.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)

# Another gateway already on the port would answer for this one, and pass a walk-through this build never ran.
if curl -s -m 5 -o /dev/null http://127.0.0.1:5080/readyz; then echo "something already listens on 127.0.0.1:5080"; exit 1; fi

setsid dotnet run --project src/XtacGateway >"$log" 2>&1 &
gateway=$!
cleanup() { kill -- -"$gateway" 2>/dev/null || true; wait "$gateway" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT

for _ in $(seq 1 180); do
  kill -0 "$gateway" 2>/dev/null || { echo "gateway exited"; cat "$log"; exit 1; }
  curl -sf -m 5 http://127.0.0.1:5080/readyz >/dev/null 2>&1 && break
  sleep 1
done
curl -sf -m 5 http://127.0.0.1:5080/readyz >/dev/null || { echo "gateway did not become ready"; cat "$log"; exit 1; }

expect() { # expect STATUS GREP -- curl args...
  local status=$1 pattern=$2; shift 3
  local body code
  body=$(curl -s -m 30 -w '\n%{http_code}' "$@")
  code=${body##*$'\n'}
  if [ "$code" != "$status" ] || ! grep -q -- "$pattern" <<<"$body"; then
    echo "README walk-through: expected $status and '$pattern' from: curl $*"; echo "$body"; exit 1
  fi
  echo "ok: $status $pattern"
}

# --- the commands below are README.md's, verbatim ---
TOKEN=$(dotnet run --project src/XtacGateway -v q -- token)
expect 200 'X-Xtac-Home-Tenant-Id' -- -H "Authorization: Bearer $TOKEN" http://127.0.0.1:5080/hello

BLOCKED=$(dotnet run --project src/XtacGateway -v q -- token --tenant cccccccc-0000-4000-8000-000000000003)
expect 403 'AADSTS500213' -- -H "Authorization: Bearer $BLOCKED" http://127.0.0.1:5080/hello

expect 403 'AADSTS50076' -- -H "Authorization: Bearer $TOKEN" http://127.0.0.1:5080/secure/report

MFA=$(dotnet run --project src/XtacGateway -v q -- token --amr pwd --amr mfa)
expect 200 'X-Xtac-Decision' -- -H "Authorization: Bearer $MFA" http://127.0.0.1:5080/secure/report

# No token: README's "401 with WWW-Authenticate: Bearer" (-i shows the header).
expect 401 'WWW-Authenticate: Bearer' -- -i http://127.0.0.1:5080/hello
echo "README walk-through passed"
