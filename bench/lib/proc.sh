# Helpers of bench/run.sh that read /proc (sourced, not run). Times are in clock ticks (getconf CLK_TCK).

# cpu_ticks PID... → utime+stime of those processes (0 for a process that is gone).
cpu_ticks() {
  local total=0 pid stat rest
  for pid in "$@"; do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    rest=${stat##*) }            # the command name may hold spaces and parentheses: cut after the last ") "
    read -r -a f <<<"$rest"      # f[0]=state f[1]=ppid … f[11]=utime f[12]=stime f[13]=cutime f[14]=cstime
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

# postgres_ticks POSTMASTER_PID → CPU of the postmaster, of every live child (backends, walwriter, …) and of
# the children it has already reaped (its cutime+cstime), so a backend that exits mid-run still counts.
postgres_ticks() {
  local pm=$1
  # A process may exit between the glob and cat: cat then fails, and under pipefail so would the caller.
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v pm="$pm" '
    {
      pid = $1
      line = $0
      sub(/^.*\) /, "", line)     # greedy: after the last ") "
      n = split(line, f, " ")     # f[1]=state f[2]=ppid … f[12]=utime f[13]=stime f[14]=cutime f[15]=cstime
      if (pid == pm) total += f[12] + f[13] + f[14] + f[15]
      else if (f[2] == pm) total += f[12] + f[13]
    }
    END { printf "%d\n", total }'
}

# machine_ticks → "busy total": all CPUs of the machine from /proc/stat (busy excludes idle and iowait).
machine_ticks() {
  awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8 + $9; total = busy + $5 + $6; printf "%d %d\n", busy, total; exit }' /proc/stat
}

# rss_kib PID → resident set size in KiB (VmRSS), or 0 when the process is gone.
rss_kib() {
  awk '/^VmRSS:/ { print $2; found = 1 } END { if (!found) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# now_s → seconds since the epoch with nanoseconds, for elapsed-time arithmetic in awk.
now_s() { date +%s.%N; }

# start_watchdog SECONDS NAME: a background job that, after SECONDS, says NAME is over its time limit and sends TERM
# to this script (whose EXIT trap then cleans up). Its pid is $! after the call; kill it to call it off.
start_watchdog() {
  (
    trap 'kill "$nap" 2>/dev/null; exit 0' TERM
    sleep "$1" & nap=$!
    wait "$nap"
    echo "$2: FAILED: over the time limit of $1 s" >&2
    kill -TERM $$
  ) 2>/dev/null &
}
