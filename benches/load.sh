#!/usr/bin/env bash
# benches/load.sh [--workers N] [--example NAME] [SCENARIO...]
# benches/load.sh --chart OUT.svg RESULTS...
#
# The load benchmark in one command. Builds examples/techempower.rs in release, starts it,
# drives it with wrk (installed with apt-get if missing) and prints, per scenario:
#   requests/s, p99 latency, the server's CPU time per request (utime+stime of the server
#   over the measured run / requests) and the user-space part of it, its peak RSS so far
#   (VmHWM), and how busy each core was (CPU1% near 100 with CPU0% below it: wrk, not the
#   server, was the limit).
# Then the resident memory of one loop holding 10 000 idle keep-alive connections.
# Last, an SVG bar chart of CPU µs per request and requests/s per scenario, beside the
# results: to compare servers, add other results files with COMPARE="FILE...".
#
# One loop (default): the server pinned to CPU 0, `wrk -t1` pinned to CPU 1.
# --workers N: N loops, neither server nor wrk pinned (wrk with one thread per core);
#   with wrk on the same machine, the client takes cores from the server, so scaling is
#   bounded by the client, not by the loops.
# --chart OUT.svg RESULTS...: only draws the chart from results files already written
#   (lines as below; a "# ... server=NAME" line names the server of the lines after it,
#   carafe by default). benches/results.svg is drawn this way.
#
# --example NAME: serve examples/NAME.rs instead of techempower (it must read PORT).
#
# Scenarios: plaintext-c64 plaintext-c512 plaintext-pipe16 json-c64 (default: all four);
#   blocking-c64 (GET /blocking/plaintext, a trivial view on the blocking pool: with
#   `--example blocking plaintext-c64 blocking-c64` the two CPU/REQ figures give the cost
#   of the hand-off to the pool; a scenario may be named more than once).
# Env: WARM (s, default 2), DUR (s, default 10), PORT (default 8080), IDLE (connections for
#   the idle run, default 10000; 0 skips it), COMPARE (results files of other servers for
#   the chart). Results are also appended to benches/results/.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

# chart OUT.svg RESULTS...: horizontal bars, one group per scenario and one bar per server,
# CPU µs per request on the left (lower is better), requests/s on the right. Each group is
# scaled to its own largest value: pipelined and plain requests differ tenfold.
chart() {
  python3 - "$@" <<'PY'
import re, sys, textwrap
from html import escape
out, files = sys.argv[1], sys.argv[2:]
data, servers, scenarios, note = {}, [], [], ""
for path in files:
    server = "carafe"
    for line in open(path, encoding="utf-8"):
        if line.startswith("#"):
            m = re.search(r"server=(\S+)", line)
            if m:
                server = m.group(1)
            text = re.sub(r"\s*server=\S+", "", line.lstrip("# ").strip())
            if not note and text:
                note = text
            continue
        cols = line.split()
        if len(cols) < 6 or cols[0] in ("SCENARIO", "idle:"):
            continue
        try:
            rps, cpu = float(cols[1]), float(cols[5])
        except ValueError:
            continue
        if server not in servers:
            servers.append(server)
        if cols[0] not in scenarios:
            scenarios.append(cols[0])
        data[(server, cols[0])] = (cpu, rps)
if not data:
    sys.exit("chart: no results in " + " ".join(files))
colors = ["#c0392b", "#2471a3", "#1e8449", "#b9770e", "#7d3c98", "#5d6d7e", "#117a65", "#a04000"]
color = {s: colors[i % len(colors)] for i, s in enumerate(servers)}
label_w, bar_w, panel_w, bar_h, gap = 110, 260, 460, 14, 4
note_lines = textwrap.wrap(note, 130)
top = 56 + 14 * len(note_lines)
group_h = 22 + len(servers) * (bar_h + gap) + 10
height = top + len(scenarios) * group_h + 10
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * panel_w + 20}" height="{height}" '
       f'font-family="sans-serif" font-size="12">',
       f'<rect width="100%" height="100%" fill="white"/>',
       f'<text x="10" y="22" font-size="16" font-weight="bold">Server CPU time per request '
       f'(µs, lower is better) and requests/s (higher is better)</text>']
for i, text in enumerate(note_lines):
    svg.append(f'<text x="10" y="{42 + 14 * i}" fill="#555">{escape(text)}</text>')
for panel, (index, unit) in enumerate([(0, "µs/request"), (1, "requests/s")]):
    x0 = 10 + panel * (panel_w + 10)
    svg.append(f'<text x="{x0}" y="{top - 8}" font-weight="bold">{unit}</text>')
    for g, scenario in enumerate(scenarios):
        y = top + g * group_h
        svg.append(f'<text x="{x0}" y="{y + 12}" font-weight="bold">{escape(scenario)}</text>')
        values = [data[(s, scenario)][index] for s in servers if (s, scenario) in data]
        peak = max(values) or 1
        for k, server in enumerate(servers):
            if (server, scenario) not in data:
                continue
            value = data[(server, scenario)][index]
            by = y + 20 + k * (bar_h + gap)
            w = max(1, round(bar_w * value / peak))
            text = f"{value:.2f}" if index == 0 else f"{value:,.0f}".replace(",", " ")
            weight = ' font-weight="bold"' if server == "carafe" else ""
            svg.append(f'<text x="{x0 + label_w - 6}" y="{by + 11}" text-anchor="end"{weight}>{escape(server)}</text>')
            svg.append(f'<rect x="{x0 + label_w}" y="{by}" width="{w}" height="{bar_h}" fill="{color[server]}"/>')
            svg.append(f'<text x="{x0 + label_w + w + 4}" y="{by + 11}"{weight}>{text}</text>')
svg.append("</svg>")
open(out, "w", encoding="utf-8").write("\n".join(svg) + "\n")
PY
}

workers=1
example=techempower
scenarios=
while [ $# -gt 0 ]; do
  case $1 in
    --workers) workers=$2; shift 2 ;;
    --workers=*) workers=${1#*=}; shift ;;
    --example) example=$2; shift 2 ;;
    --example=*) example=${1#*=}; shift ;;
    --chart) shift; chart "$@" || exit 1; echo "# chart: $1" >&2; exit 0 ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) scenarios="$scenarios $1"; shift ;;
  esac
done
scenarios=${scenarios:-plaintext-c64 plaintext-c512 plaintext-pipe16 json-c64}
WARM=${WARM:-2}; DUR=${DUR:-10}; PORT=${PORT:-8080}; IDLE=${IDLE:-10000}
export PORT

if ! command -v wrk >/dev/null; then
  echo "wrk not found: installing it with apt-get" >&2
  { apt-get update && apt-get install -y wrk; } >/dev/null || { echo "could not install wrk" >&2; exit 1; }
fi
(cd "$root" && cargo build --release --example "$example") || exit 1
bin=$root/target/release/examples/$example

# 10 000 idle connections need as many descriptors on each side, plus the listener's.
ulimit -n 65535 2>/dev/null || ulimit -n "$(ulimit -Hn)"
mkdir -p "$here/results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
results=$here/results/load-$stamp-w$workers.txt
logs=$here/results/logs-$stamp; mkdir -p "$logs"

listening() { ss -ltnH "sport = :$1" | grep -q .; }
listening "$PORT" && { echo "load.sh: port $PORT is in use (set PORT)" >&2; exit 1; }

# start_server LOG [VAR=VALUE...]: starts the example, waits for it to answer; sets $spid.
start_server() {
  local log=$1; shift
  if [ "$workers" = 1 ]; then
    env RUST_LOG=warn "$@" WORKERS=1 taskset -c 0 "$bin" >"$log" 2>&1 &
  else
    env RUST_LOG=warn "$@" WORKERS="$workers" "$bin" >"$log" 2>&1 &
  fi
  spid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/plaintext" && return 0
    kill -0 $spid 2>/dev/null || break
    sleep 0.1
  done
  echo "load.sh: the server did not answer on :$PORT (see $log)" >&2
  exit 1
}
stop_server() {
  kill "$spid" 2>/dev/null
  wait "$spid" 2>/dev/null
}
trap 'kill $spid 2>/dev/null' EXIT

hz=$(getconf CLK_TCK)
snap() { # server-user-ticks server-system-ticks cpu0-busy cpu0-total cpu1-busy cpu1-total
  local t; t=$(sed 's/.*) //' /proc/$spid/stat 2>/dev/null | awk '{print $12 " " $13}')
  awk -v t="${t:-0 0}" '/^cpu[01] / {idle = $5 + $6; tot = 0; for (i = 2; i <= NF; i++) tot += $i; o = o " " tot - idle " " tot}
                      END {print t o}' /proc/stat
}
if [ "$workers" = 1 ]; then
  wrk=(taskset -c 1 wrk -t1)
else
  wrk=(wrk -t"$(nproc)")
fi

{
  echo "# carafe load.sh $(date -u +%FT%TZ) server=carafe example=$example workers=$workers warm=${WARM}s dur=${DUR}s; $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); $(uname -sr)"
  printf '%-17s %10s %9s %7s %10s %10s %8s %6s %6s\n' SCENARIO REQ/S P99 ERRORS PEAK_RSS_KB CPU_US/REQ USER_US CPU0% CPU1%
} | tee -a "$results"

start_server "$logs/server.log"
for sc in $scenarios; do
  case $sc in
    plaintext-c64)    args=(-c64 "http://127.0.0.1:$PORT/plaintext") ;;
    plaintext-c512)   args=(-c512 "http://127.0.0.1:$PORT/plaintext") ;;
    plaintext-pipe16) args=(-c64 -s "$here/pipeline.lua" "http://127.0.0.1:$PORT/plaintext") ;;
    json-c64)         args=(-c64 "http://127.0.0.1:$PORT/json") ;;
    blocking-c64)     args=(-c64 "http://127.0.0.1:$PORT/blocking/plaintext") ;;
    *) echo "load.sh: unknown scenario $sc" >&2; continue ;;
  esac
  "${wrk[@]}" -d"${WARM}s" "${args[@]}" >/dev/null 2>&1
  read -r us0 s0 a0 t0 b0 u0 < <(snap)
  "${wrk[@]}" -d"${DUR}s" --latency "${args[@]}" >"$logs/$sc.wrk" 2>&1
  read -r us1 s1 a1 t1 b1 u1 < <(snap)
  alive=; kill -0 $spid 2>/dev/null && alive=1
  rss=$(awk '/VmHWM/ {print $2}' /proc/$spid/status 2>/dev/null)
  awk -v sc="$sc" -v rss="${rss:-?}" -v alive="$alive" -v hz="$hz" \
      -v cpu=$((us1 - us0 + s1 - s0)) -v user=$((us1 - us0)) -v c0=$((a1 - a0)) -v n0=$((t1 - t0)) -v c1=$((b1 - b0)) -v n1=$((u1 - u0)) '
    / requests in / {reqs = $1}
    /Requests\/sec/ {rps = $2}
    /^ +99%/ {p99 = $2}
    /Non-2xx/ {err += $NF}
    /Socket errors/ {gsub(",", ""); for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+$/) err += $i}
    END {
      # wrk corrects latency for coordinated omission per request, which pipelining breaks.
      if (sc ~ /pipe/) p99 = "n/a"
      if (!alive) rss = "DIED"
      printf "%-17s %10s %9s %7d %11s %10s %8s %6.0f %6.0f\n", sc, rps ? rps : "0", p99 ? p99 : "?", err, rss,
             reqs ? sprintf("%.2f", cpu / hz * 1e6 / reqs) : "?", reqs ? sprintf("%.3f", user / hz * 1e6 / reqs) : "?",
             n0 ? 100 * c0 / n0 : 0, n1 ? 100 * c1 / n1 : 0
    }' "$logs/$sc.wrk" | tee -a "$results"
  [ -n "$alive" ] || { echo "load.sh: the server died (see $logs/server.log)" >&2; exit 1; }
done
stop_server

if [ "$IDLE" -gt 0 ]; then
  # A fresh server with one loop; idle connections must outlive the default keep-alive
  # timeout while they are being opened and measured.
  saved=$workers; workers=1
  start_server "$logs/idle-server.log" CARAFE_KEEP_ALIVE_TIMEOUT=300 CARAFE_MAX_CONNECTIONS=$((IDLE + 100))
  workers=$saved
  before=$(awk '/VmRSS/ {print $2}' /proc/$spid/status)
  python3 "$here/idle_conns.py" "$PORT" "$IDLE" /plaintext 120 >"$logs/idle.out" 2>&1 &
  cpid=$!
  for _ in $(seq 1200); do
    grep -q '^ready' "$logs/idle.out" && break
    kill -0 $cpid 2>/dev/null || break
    sleep 0.1
  done
  if grep -q '^ready' "$logs/idle.out"; then
    sleep 1
    after=$(awk '/VmRSS/ {print $2}' /proc/$spid/status)
    open=$(ls /proc/$spid/fd | wc -l)
    awk -v n="$IDLE" -v b="$before" -v a="$after" -v fds="$open" 'BEGIN {
      printf "idle: %d keep-alive connections on one loop (%d fds open): RSS %d KB before, %d KB after, %.2f KB per connection\n",
             n, fds, b, a, (a - b) / n }' | tee -a "$results"
  else
    echo "load.sh: the idle client failed: $(tail -1 "$logs/idle.out")" | tee -a "$results" >&2
  fi
  kill $cpid 2>/dev/null; wait $cpid 2>/dev/null
  stop_server
fi
echo "# results: $results" >&2
# shellcheck disable=SC2086 # COMPARE is a list of files
chart "${results%.txt}.svg" "$results" ${COMPARE:-} && echo "# chart: ${results%.txt}.svg" >&2
