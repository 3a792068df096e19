# A throwaway PostgreSQL for the benchmarks that measure PostgreSQL alone (sourced, not run): through
# scripts/pg.sh (installs the Debian package when missing, runs the server as postgres under root), in a
# temporary directory ($d) on a free loopback port ($port), stopped and removed when the script exits.
# p ARGS... runs psql against it (tuples only, stops at the first error).
pg="$(dirname "${BASH_SOURCE[0]}")/../../scripts/pg.sh"
bash "$pg" install
d=$(mktemp -d); chmod 755 "$d"
cleanup() { bash "$pg" stop "$d/data" >/dev/null 2>&1 || true; rm -rf "$d"; }
trap cleanup EXIT
bash "$pg" init "$d/data" >/dev/null
port=$(bash "$pg" free-port)
bash "$pg" start "$d/data" "$port" >/dev/null
p() { psql -h 127.0.0.1 -p "$port" -U invexqr -d postgres -qtAX -v ON_ERROR_STOP=1 "$@"; }
