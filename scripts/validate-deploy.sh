#!/usr/bin/env bash
# Validates InvexQR's deployment files offline:
#   1. installs what it needs: kubectl (Debian's kubernetes-client, if no kubectl is on PATH) and the pinned
#      npm packages of scripts/validate-deploy (npm ci);
#   2. renders k8s/overlays/dev and k8s/overlays/prod with `kubectl kustomize`: with the operator's
#      secrets.env/postgres.env/gateway.env where they exist, else on a copy with throwaway values; and prod
#      again with the component k8s/components/cert-manager-cluster-tls (kustomize >= 3.7);
#   3. checks the renders, docker-compose.yml and the Dockerfiles (scripts/validate-deploy/validate.mjs);
#   4. runs the self-test: deliberately broken copies, and the overlays rendered with the weak values they used
#      to ship (scripts/validate-deploy/fixtures), must each be rejected.
# Exits non-zero on any failure. KUBECTL=/path/to/kubectl picks another kubectl (e.g. to compare kustomize
# versions). Usage: scripts/validate-deploy.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tool="$root/scripts/validate-deploy"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# --- tools ------------------------------------------------------------------------------------------------
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "validate-deploy: installing nodejs + npm (Debian)"
  apt_install nodejs npm
fi
kubectl=${KUBECTL:-}
if [ -z "$kubectl" ]; then
  if ! command -v kubectl >/dev/null; then
    echo "validate-deploy: installing kubectl (Debian package kubernetes-client)"
    apt_install kubernetes-client
  fi
  kubectl=kubectl
fi
echo "validate-deploy: $("$kubectl" version --client 2>/dev/null | head -n1)"

# npm ci only when node_modules is missing or older than the lock file.
if [ ! -f "$tool/node_modules/.package-lock.json" ] || [ "$tool/package-lock.json" -nt "$tool/node_modules/.package-lock.json" ]; then
  echo "validate-deploy: npm ci (scripts/validate-deploy)"
  (cd "$tool" && npm ci --no-audit --no-fund --loglevel=error)
fi

# --- render -----------------------------------------------------------------------------------------------
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
render() { # render <overlay dir> <output file>
  # Deprecation warnings (bases, patchesStrategicMerge, patchesJson6902) from newer kustomize are expected;
  # see k8s/README.md.
  if ! "$kubectl" kustomize "$1" >"$2" 2>"$2.err"; then
    cat "$2.err" >&2
    echo "validate-deploy: FAILED: kubectl kustomize ${1#"$root/"}" >&2
    exit 1
  fi
  grep -v '^# Warning: .* is deprecated' "$2.err" >&2 || true
}
random_hex() { od -An -vN32 -tx1 /dev/urandom | tr -d ' \n'; }

# The overlays generate their Secrets (prod also its site settings) from files the operator creates and git
# ignores. Where they exist, what would be applied is checked; where not, a copy of k8s/ gets throwaway
# values (random secrets from scripts/k8s-secrets.sh, prod's gateway.env.example) so it can still be checked.
declare -A k8s_used
for overlay in dev prod; do
  dir="$root/k8s/overlays/$overlay"
  secret_files=(secrets.env); [ "$overlay" = dev ] && secret_files+=(postgres.env)
  needed=("${secret_files[@]}"); [ "$overlay" = prod ] && needed+=(gateway.env)
  missing=()
  # The static cluster certificates, unless prod has cert-manager issue them (its `- cluster-tls` base removed).
  if [ "$overlay" = dev ] || grep -qx -- '- cluster-tls' "$dir/kustomization.yaml"; then
    needed+=(cluster-tls/ca.crt cluster-tls/silo.crt cluster-tls/silo.key cluster-tls/gateway.crt cluster-tls/gateway.key)
  fi
  for f in "${needed[@]}"; do [ -f "$dir/$f" ] || missing+=("$f"); done
  if [ ${#missing[@]} -eq 0 ]; then
    render "$dir" "$out/$overlay.yaml"
    how="with your ${needed[*]}"
    k8s_used[$overlay]="$root/k8s"
  else
    copy="$out/k8s-$overlay"
    cp -r "$root/k8s" "$copy"
    for f in "${secret_files[@]}"; do rm -f "$copy/overlays/$overlay/$f"; done
    rm -f "$copy/overlays/$overlay/cluster-tls/"*.crt "$copy/overlays/$overlay/cluster-tls/"*.key
    INVEXQR_POSTGRES_CONNECTION="Host=postgres.validate.invalid;Port=5432;Database=invexqr;Username=invexqr;Password=$(random_hex);SSL Mode=Require" \
      bash "$root/scripts/k8s-secrets.sh" "$overlay" --dir "$copy" >/dev/null
    [ "$overlay" = prod ] && [ ! -f "$copy/overlays/prod/gateway.env" ] && cp "$copy/overlays/prod/gateway.env.example" "$copy/overlays/prod/gateway.env"
    render "$copy/overlays/$overlay" "$out/$overlay.yaml"
    how="with throwaway values (no ${missing[*]} in k8s/overlays/$overlay)"
    k8s_used[$overlay]="$copy"
  fi
  echo "validate-deploy: rendered k8s/overlays/$overlay $how ($(grep -c '^kind:' "$out/$overlay.yaml") objects)"
  # Self-test input: the same overlay with the weak values it used to ship (fixtures/k8s-weak/$overlay).
  weak="$out/k8s-weak-$overlay"
  cp -r "$root/k8s" "$weak"
  cp "$tool/fixtures/k8s-weak/$overlay/"*.env "$weak/overlays/$overlay/"
  [ -f "$weak/overlays/$overlay/cluster-tls/ca.crt" ] || bash "$root/scripts/cluster-certs.sh" "$weak/overlays/$overlay/cluster-tls" >/dev/null
  render "$weak/overlays/$overlay" "$out/$overlay-weak.yaml"
done

# prod once more with k8s/components/cert-manager-cluster-tls in place of the `- cluster-tls` base, and without
# the static certificate files, which the component must make unnecessary. Components need kustomize >= 3.7;
# kubectl prints its kustomize version from 1.24 on (older ones, e.g. Debian's 1.20, embed v2.0.3).
component=cert-manager-cluster-tls
variant=prod+$component
kustomize_version=$("$kubectl" version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\{0,1\}//p')
if [ -n "$kustomize_version" ]; then
  cm="$out/k8s-$component"
  cp -r "${k8s_used[prod]}" "$cm"
  kustomization="$cm/overlays/prod/kustomization.yaml"
  if ! grep -qx -- "- ../../components/$component" "$kustomization"; then
    if ! grep -qx -- '- cluster-tls' "$kustomization"; then
      echo "validate-deploy: FAILED: k8s/overlays/prod/kustomization.yaml lists neither the base '- cluster-tls' nor the component $component" >&2
      exit 1
    fi
    sed -i '/^- cluster-tls$/d' "$kustomization"
    printf 'components:\n- ../../components/%s\n' "$component" >>"$kustomization"
  fi
  rm -f "$cm/overlays/prod/cluster-tls/"*.crt "$cm/overlays/prod/cluster-tls/"*.key
  render "$cm/overlays/prod" "$out/$variant.yaml"
  echo "validate-deploy: rendered k8s/overlays/prod + k8s/components/$component, without cluster-tls/ ($(grep -c '^kind:' "$out/$variant.yaml") objects)"
  variant_args=(--overlay "$variant=$out/$variant.yaml")
else
  echo "validate-deploy: SKIPPED k8s/overlays/prod + k8s/components/$component: this kubectl's kustomize has no components (needs kubectl >= 1.24 here; KUBECTL=/path/to/kubectl picks another)" >&2
  variant_args=(--skipped "$variant")
fi

# --- check ------------------------------------------------------------------------------------------------
status=0
node "$tool/validate.mjs" --root "$root" --overlay dev="$out/dev.yaml" --overlay prod="$out/prod.yaml" "${variant_args[@]}" || status=1
node "$tool/validate.mjs" --self-test --root "$root" --overlay dev="$out/dev.yaml" "${variant_args[@]}" \
  --weak-overlay dev="$out/dev-weak.yaml" --weak-overlay prod="$out/prod-weak.yaml" || status=1
if [ "$status" -ne 0 ]; then
  echo "validate-deploy: FAILED (see the FAIL lines above)" >&2
else
  echo "validate-deploy: all checks passed"
fi
exit "$status"
