#!/usr/bin/env bash
# Creates the certificates of the Orleans cluster's mutual TLS (docs/security.md) with openssl, in one directory:
#   ca.crt, ca.key            the cluster's own CA (EC P-256, 10 years); peers are checked against it, not the OS store
#   silo.crt, silo.key        silos and co-hosting gateways: server + client authentication
#   gateway.crt, gateway.key  gateways (Orleans clients): client authentication only, so a gateway's key cannot
#                             serve as a silo or open the silo-to-silo port
# Nothing is overwritten: an existing CA signs new node certificates; delete a node's files to renew it. The
# directory is created mode 700 and every file in it mode 600.
#
#   scripts/cluster-certs.sh .data/tls                      what ./run.sh does on its first run
#   scripts/cluster-certs.sh cluster-tls --for-containers    for docker-compose.yml (see below)
#   scripts/cluster-certs.sh DIR --days 365                  node certificates' validity (default 825 days)
#
# --for-containers: the containers run as uid 1654 and bind-mount single files, so the keys must be readable by
# that uid: they are made mode 644 inside the mode-700 directory, which keeps other users of the host out.
set -euo pipefail
usage() { echo "usage: scripts/cluster-certs.sh DIR [--days N] [--for-containers]" >&2; exit 2; }

dir=${1:-}
[[ -n $dir && $dir != -* ]] || usage
shift
days=825
containers=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --days) days=${2:-}; shift 2 || usage ;;
    --for-containers) containers=1; shift ;;
    *) usage ;;
  esac
done
[[ $days =~ ^[0-9]+$ && $days -ge 1 && $days -le 3650 ]] || { echo "cluster-certs: --days must be 1..3650, not '$days'" >&2; exit 2; }

if ! command -v openssl >/dev/null; then
  echo "cluster-certs: installing openssl (Debian)" >&2
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq openssl >/dev/null
fi

umask 077
mkdir -p "$dir"
chmod 700 "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { timeout 60 openssl "$@" 2>"$tmp/err" || { cat "$tmp/err" >&2; echo "cluster-certs: openssl $1 failed" >&2; exit 1; }; }

if [[ -f $dir/ca.crt && -f $dir/ca.key ]]; then
  echo "cluster-certs: using the existing CA $dir/ca.crt"
elif [[ -e $dir/ca.crt || -e $dir/ca.key ]]; then
  echo "cluster-certs: $dir has only one of ca.crt and ca.key; move it away or restore the other" >&2
  exit 1
else
  run genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/ca.key"
  run req -x509 -new -key "$tmp/ca.key" -sha256 -days 3650 -subj "/O=InvexQR/CN=InvexQR cluster CA $(date -u +%Y-%m-%d)" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" -out "$tmp/ca.crt"
  mv "$tmp/ca.key" "$dir/ca.key"
  mv "$tmp/ca.crt" "$dir/ca.crt"
  echo "cluster-certs: created the CA $dir/ca.crt"
fi

issue() { # NAME EXTENDED-KEY-USAGE
  local name=$1 usage=$2
  if [[ -f $dir/$name.crt && -f $dir/$name.key ]]; then
    echo "cluster-certs: keeping $dir/$name.crt (expires $(openssl x509 -in "$dir/$name.crt" -noout -enddate | cut -d= -f2))"
    return
  fi
  run genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/$name.key"
  run req -new -key "$tmp/$name.key" -subj "/O=InvexQR/CN=invexqr-$name" -out "$tmp/$name.csr"
  cat >"$tmp/$name.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=$usage
subjectAltName=DNS:invexqr-$name
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
  run x509 -req -in "$tmp/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days "$days" -sha256 -extfile "$tmp/$name.ext" -out "$tmp/$name.crt"
  run verify -CAfile "$dir/ca.crt" -purpose sslclient "$tmp/$name.crt" >/dev/null
  mv "$tmp/$name.key" "$dir/$name.key"
  mv "$tmp/$name.crt" "$dir/$name.crt"
  echo "cluster-certs: issued $dir/$name.crt ($usage, $days days)"
}
issue silo serverAuth,clientAuth
issue gateway clientAuth

chmod 600 "$dir"/*.key "$dir"/*.crt
if [[ $containers == 1 ]]; then
  chmod 644 "$dir"/*.crt "$dir/silo.key" "$dir/gateway.key"
fi
