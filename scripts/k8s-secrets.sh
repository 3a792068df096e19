#!/usr/bin/env bash
# Writes the secret files a Kubernetes overlay's secretGenerator reads (they are git-ignored; never commit them):
#   dev:  k8s/overlays/dev/secrets.env   Auth__ApiKey + Auth__SessionSecret + ConnectionStrings__Postgres (the in-cluster PostgreSQL)
#         k8s/overlays/dev/postgres.env  POSTGRES_PASSWORD, the same password
#   both: k8s/overlays/*/cluster-tls/     the Orleans cluster's CA and certificates (scripts/cluster-certs.sh; not for
#                                         a prod overlay that uses k8s/components/cert-manager-cluster-tls)
#   prod: k8s/overlays/prod/secrets.env  Auth__ApiKey + Auth__SessionSecret + ConnectionStrings__Postgres taken from the environment
#         variable INVEXQR_POSTGRES_CONNECTION (your database, Npgsql syntax)
# Fresh random values (64 hex characters) from /dev/urandom; files are created mode 600 and never overwritten.
#
#   scripts/k8s-secrets.sh dev
#   INVEXQR_POSTGRES_CONNECTION='Host=db.internal;Port=5432;Database=invexqr;Username=invexqr;Password=...;SSL Mode=Require' \
#     scripts/k8s-secrets.sh prod
#   scripts/k8s-secrets.sh dev --dir /tmp/k8s-copy    (another copy of k8s/; scripts/validate-deploy.sh uses it)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage() { echo "usage: scripts/k8s-secrets.sh dev|prod [--dir K8S_DIR]" >&2; exit 2; }

overlay=${1:-}
[[ $overlay == dev || $overlay == prod ]] || usage
shift
k8s="$root/k8s"
while [[ $# -gt 0 ]]; do
  case $1 in
    --dir) k8s=${2:?--dir needs a directory}; shift 2 ;;
    *) usage ;;
  esac
done
dir="$k8s/overlays/$overlay"
[[ -d $dir ]] || { echo "k8s-secrets: no overlay directory $dir" >&2; exit 1; }

random_hex() { od -An -vN32 -tx1 /dev/urandom | tr -d ' \n'; }

files=("$dir/secrets.env")
[[ $overlay == dev ]] && files+=("$dir/postgres.env")
for f in "${files[@]}"; do
  if [[ -e $f ]]; then
    echo "k8s-secrets: $f exists; not overwriting it (delete it first to rotate; see docs/operations.md)" >&2
    exit 1
  fi
done

umask 077
key=$(random_hex)
if [[ $overlay == dev ]]; then
  password=$(random_hex)   # hex: nothing to quote inside the connection string
  printf 'POSTGRES_PASSWORD=%s\n' "$password" >"$dir/postgres.env"
  connection="Host=postgres;Port=5432;Database=invexqr;Username=invexqr;Password=$password"
else
  connection=${INVEXQR_POSTGRES_CONNECTION:-}
  if [[ -z $connection ]]; then
    echo "k8s-secrets: set INVEXQR_POSTGRES_CONNECTION to your database's Npgsql connection string, e.g." >&2
    echo "  'Host=db.internal;Port=5432;Database=invexqr;Username=invexqr;Password=<at least 24 characters>;SSL Mode=Require'" >&2
    exit 1
  fi
  [[ $connection != *$'\n'* ]] || { echo "k8s-secrets: INVEXQR_POSTGRES_CONNECTION must be one line" >&2; exit 1; }
fi
printf 'Auth__ApiKey=%s\nAuth__SessionSecret=%s\nConnectionStrings__Postgres=%s\n' "$key" "$(random_hex)" "$connection" >"$dir/secrets.env"
for f in "${files[@]}"; do echo "k8s-secrets: wrote $f"; done
# The cluster's CA and node certificates for the Secret invexqr-cluster-tls (kept if they exist), unless prod has
# cert-manager issue them (its `- cluster-tls` base replaced by k8s/components/cert-manager-cluster-tls).
if [[ $overlay == dev ]] || grep -qx -- '- cluster-tls' "$dir/kustomization.yaml"; then
  bash "$root/scripts/cluster-certs.sh" "$dir/cluster-tls"
else
  echo "k8s-secrets: no cluster-tls/ files: $dir/kustomization.yaml has cert-manager issue the cluster certificates"
fi
