#!/usr/bin/env bash
# benches/handshakes.sh NAME 'SERVER COMMAND' [new|reuse]...
#   TLS handshakes per second, and the server's CPU time per handshake. Starts SERVER
#   COMMAND (it must serve HTTPS on 127.0.0.1:$PORT) pinned to CPU 0 and drives it with
#   `openssl s_time` pinned to CPU 1: `new` makes a full handshake per connection, `reuse`
#   resumes one session (default: new). Each connection also asks for $WWW and reads the
#   answer to the end: a TLS 1.3 session ticket comes after the handshake, so a client that
#   reads nothing has none to resume with. Prints one line per mode:
#     NAME MODE HANDSHAKES/S CPU_US_PER_HANDSHAKE CPU0% CPU1%
#   CPU1% near 100 means s_time, not the server, was the limit: compare the CPU column.
# Env: PORT (default: a free one), WARM (s, 2), DUR (s, 10), WWW (the path asked for, /),
#   PROTO (an s_time option forcing a version, e.g. -tls1_2; default: the newest).
#   TLS_CERT=cert.pem TLS_KEY=key.pem benches/handshakes.sh carafe \
#     target/release/examples/techempower new
set -u
[ $# -ge 2 ] || { sed -n '2,14p' "$0"; exit 2; }
name=$1; cmd=$2; shift 2
modes=${*:-new}
WARM=${WARM:-2}; DUR=${DUR:-10}; WWW=${WWW:-/}; PROTO=${PROTO:-}
command -v openssl >/dev/null || { echo "handshakes.sh: needs openssl" >&2; exit 1; }
listening() { ss -ltnH "sport = :$1" | grep -q .; }
# A free port below the ephemeral range, where no outgoing connection holds it.
if [ -z "${PORT:-}" ]; then
  for _ in $(seq 50); do PORT=$((10000 + RANDOM % 20000)); listening $PORT || break; done
fi
export PORT
log=$(mktemp)
taskset -c 0 bash -c "exec $cmd" >"$log" 2>&1 &
pid=$!
up=
for _ in $(seq 100); do
  curl -sk -o /dev/null --max-time 1 "https://127.0.0.1:$PORT/" && { up=1; break; }
  sleep 0.1
done
[ -n "$up" ] || { echo "handshakes.sh: $name did not answer on :$PORT" >&2; cat "$log" >&2; kill $pid; exit 1; }
spid=$(ss -ltnpH "sport = :$PORT" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
spid=${spid:-$pid}
hz=$(getconf CLK_TCK)
snap() { # server-ticks cpu0-busy cpu0-total cpu1-busy cpu1-total
  local t; t=$(sed 's/.*) //' /proc/$spid/stat | awk '{print $12 + $13}')
  awk -v t="$t" '/^cpu[01] / {idle = $5 + $6; tot = 0; for (i = 2; i <= NF; i++) tot += $i; o = o " " tot - idle " " tot}
                 END {print t o}' /proc/stat
}
for mode in $modes; do
  s_time=(taskset -c 1 openssl s_time -connect "127.0.0.1:$PORT" "-$mode" -www "$WWW" $PROTO)
  "${s_time[@]}" -time "$WARM" >/dev/null 2>&1
  read -r s0 a0 t0 b0 u0 < <(snap)
  out=$("${s_time[@]}" -time "$DUR" 2>&1)
  read -r s1 a1 t1 b1 u1 < <(snap)
  # "N connections in T real seconds": the last such line is the measured one.
  echo "$out" | awk -v name="$name" -v mode="$mode" -v hz="$hz" -v cpu=$((s1 - s0)) \
      -v c0=$((a1 - a0)) -v n0=$((t1 - t0)) -v c1=$((b1 - b0)) -v n1=$((u1 - u0)) '
    / connections in [0-9.]+ real seconds/ {n = $1; secs = $4}
    END {
      if (!n) { print name, mode, "no handshakes"; exit }
      printf "%s %s %.0f %.1f %.0f %.0f\n", name, mode, n / secs, cpu / hz * 1e6 / n,
             n0 ? 100 * c0 / n0 : 0, n1 ? 100 * c1 / n1 : 0
    }'
done
kill $spid $pid 2>/dev/null
for _ in $(seq 50); do kill -0 $spid 2>/dev/null || break; sleep 0.1; done
kill -9 $spid $pid 2>/dev/null
wait $pid 2>/dev/null
rm -f "$log"
exit 0
