#!/usr/bin/env bash
# benches/tls.sh [ROUNDS]
#
# HTTPS keep-alive: the server's CPU time per request over TLS, against hyper with
# tokio-rustls on the same route, and against carafe's own plain HTTP (the cost of TLS).
#
# Builds examples/techempower.rs in release with `--features tls` (or takes CARAFE=BINARY),
# makes a P-256 self-signed certificate for 127.0.0.1 with openssl, then runs ROUNDS
# (default 3) rounds. In each round every server in turn, the order rotating from round to
# round, is started pinned to CPU 0 and driven by `wrk -t1 -c64` pinned to CPU 1 on
# GET /plaintext (WARM s of warm-up, then DUR s measured). Per server and round it prints
#   ROUND NAME REQ/S US_PER_REQ USER_US SYS_US CPU0% CPU1%
# US_PER_REQ is the server's utime+stime over the measured window (/proc/PID/stat) divided
# by the requests wrk counted, USER_US and SYS_US its two parts; CPU1% near 100 means wrk,
# not the server, was the limit, so compare US_PER_REQ. Then, per round, each server's
# US_PER_REQ divided by carafe-https's. The machine may be shared: compare within rounds.
#
# Servers: carafe-https (TLS_CERT/TLS_KEY), carafe-http (the same binary without them), and
# hyper-tls when HYPER_TLS names a built hyper-tls-peer (hyper 1 on a current-thread tokio
# runtime behind tokio-rustls, ring provider, the same certificate).
# HANDSHAKES=1 then runs benches/handshakes.sh (new and resumed handshakes per second, and
# the server's CPU per handshake) for each TLS server, ROUNDS rounds, the order rotating;
# PROTO=-tls1_2 there makes those TLS 1.2 handshakes (wrk's keep-alive runs stay TLS 1.3).
#
# CALLGRIND=1 last counts, under valgrind's callgrind, the user-space instructions each TLS
# server executes per request (and, with HANDSHAKES=1, per new and per resumed handshake):
# the counters are zeroed after a warm-up and dumped after the measured run. Counts do not
# move with the machine's load as times do; the kernel's part is not in them.
#
# Env: ROUNDS, WARM (2), DUR (8), CONNS (64), CARAFE, HYPER_TLS, HANDSHAKES, RESULTS (a file
# the lines are appended to; default benches/results/tls-DATE.txt), LOCK (a file locked for
# the whole run, so benchmarks sharing it never overlap; default /tmp/carafe-bench.lock).
#   HYPER_TLS=/tmp/peers/target/release/hyper-tls-peer bash benches/tls.sh 3
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
case ${1:-} in -h | --help) sed -n '2,33p' "$0"; exit 0 ;; esac
ROUNDS=${1:-${ROUNDS:-3}}
WARM=${WARM:-2}; DUR=${DUR:-8}; CONNS=${CONNS:-64}
mkdir -p "$here/results"
RESULTS=${RESULTS:-$here/results/tls-$(date +%F).txt}

tools="wrk openssl curl taskset"
[ -n "${CALLGRIND:-}" ] && tools+=" valgrind"
for tool in $tools; do
  command -v $tool >/dev/null && continue
  echo "tls.sh: $tool not found: installing it with apt-get" >&2
  apt-get update -qq && apt-get install -y -qq wrk openssl curl util-linux valgrind >/dev/null || exit 1
done

if [ -z "${CARAFE:-}" ]; then
  (cd "$root" && cargo build --release --features tls --example techempower) || exit 1
  CARAFE=$root/target/release/examples/techempower
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$work/key.pem" -out "$work/cert.pem" -days 2 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null || exit 1
tls_env="TLS_CERT=$work/cert.pem TLS_KEY=$work/key.pem"

names=(carafe-https carafe-http)
declare -A envs=(
  [carafe-https]="$tls_env RUST_LOG=warn WORKERS=1"
  [carafe-http]="RUST_LOG=warn WORKERS=1"
)
declare -A bin=([carafe-https]=$CARAFE [carafe-http]=$CARAFE)
declare -A scheme=([carafe-https]=https [carafe-http]=http [hyper-tls]=https)
if [ -n "${HYPER_TLS:-}" ]; then
  names+=(hyper-tls)
  envs[hyper-tls]=$tls_env
  bin[hyper-tls]=$HYPER_TLS
fi
declare -A cmd
for name in "${names[@]}"; do cmd[$name]="env ${envs[$name]} ${bin[$name]}"; done

# One benchmark at a time on this machine: a lock, and no foreign wrk running.
exec 9>"${LOCK:-/tmp/carafe-bench.lock}"; flock 9
for _ in $(seq 120); do pgrep -x wrk >/dev/null || break; sleep 1; done
ulimit -n 65535 2>/dev/null || true

listening() { ss -ltnH "sport = :$1" | grep -q .; }
# A free port below the ephemeral range (32768 up), where no outgoing connection holds it.
free_port() {
  local p
  for _ in $(seq 50); do p=$((10000 + RANDOM % 20000)); listening $p || break; done
  echo $p
}
hz=$(getconf CLK_TCK)
snap() { # server-user-ticks server-system-ticks cpu0-busy cpu0-total cpu1-busy cpu1-total
  local t; t=$(sed 's/.*) //' /proc/$1/stat 2>/dev/null | awk '{print $12, $13}')
  awk -v t="${t:-0 0}" '/^cpu[01] / {idle = $5 + $6; tot = 0; for (i = 2; i <= NF; i++) tot += $i; o = o " " tot - idle " " tot}
                        END {print t o}' /proc/stat
}

# start NAME: starts the server on a free port; sets PORT and SPID.
start() {
  PORT=$(free_port)
  taskset -c 0 env PORT=$PORT ${cmd[$1]} >"$work/$1.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do
    curl -sk -o /dev/null --max-time 1 "${scheme[$1]}://127.0.0.1:$PORT/plaintext" && break
    sleep 0.1
  done
  SPID=$(ss -ltnpH "sport = :$PORT" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
  [ -n "$SPID" ] || { echo "tls.sh: $1 did not start" >&2; cat "$work/$1.log" >&2; exit 1; }
}
stop() {
  kill $SPID $PID 2>/dev/null
  for _ in $(seq 50); do kill -0 $SPID 2>/dev/null || break; sleep 0.1; done
  kill -9 $SPID $PID 2>/dev/null
  wait $PID 2>/dev/null
}

{
  echo "# $(date -u +%FT%TZ) benches/tls.sh: ${ROUNDS} rounds, wrk -t1 -c$CONNS ${DUR}s, load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# ROUND NAME REQ/S US_PER_REQ USER_US SYS_US CPU0% CPU1%"
} | tee -a "$RESULTS"
declare -A us
n=${#names[@]}
for round in $(seq "$ROUNDS"); do
  for i in $(seq 0 $((n - 1))); do
    name=${names[$(((i + round - 1) % n))]}
    start "$name"
    url="${scheme[$name]}://127.0.0.1:$PORT/plaintext"
    taskset -c 1 wrk -t1 -c"$CONNS" -d"${WARM}s" "$url" >/dev/null 2>&1
    read -r u0 s0 a0 t0 b0 c0 < <(snap $SPID)
    taskset -c 1 wrk -t1 -c"$CONNS" -d"${DUR}s" "$url" >"$work/wrk.out" 2>&1
    read -r u1 s1 a1 t1 b1 c1 < <(snap $SPID)
    stop
    line=$(awk -v r="$round" -v name="$name" -v hz="$hz" -v ut=$((u1 - u0)) -v st=$((s1 - s0)) \
        -v a=$((a1 - a0)) -v t=$((t1 - t0)) -v b=$((b1 - b0)) -v c=$((c1 - c0)) '
      / requests in / {reqs = $1}
      /Requests\/sec/ {rps = $2}
      /Non-2xx|Socket errors/ {bad = 1}
      END {
        if (!reqs) { print r, name, "no requests"; exit }
        k = 1e6 / hz / reqs
        printf "%s %s %.0f %.2f %.2f %.2f %.0f %.0f%s\n", r, name, rps, (ut + st) * k, ut * k, st * k,
               t ? 100 * a / t : 0, c ? 100 * b / c : 0, bad ? " (errors: see wrk)" : ""
      }' "$work/wrk.out")
    echo "$line" | tee -a "$RESULTS"
    us[$round.$name]=$(echo "$line" | awk '{print $4}')
  done
  base=${us[$round.carafe-https]}
  ratios=""
  for name in "${names[@]}"; do
    ratios+=" $name/carafe-https=$(awk -v a="${us[$round.$name]}" -v b="$base" 'BEGIN {printf "%.2f", a / b}')"
  done
  echo "# round $round:$ratios" | tee -a "$RESULTS"
done

# Handshakes: each TLS server in turn, the order rotating, ROUNDS times; new and resumed.
if [ -n "${HANDSHAKES:-}" ]; then
  echo "# ROUND NAME MODE HANDSHAKES/S CPU_US_PER_HANDSHAKE CPU0% CPU1%" | tee -a "$RESULTS"
  tls_names=()
  for name in "${names[@]}"; do [ "${scheme[$name]}" = https ] && tls_names+=("$name"); done
  m=${#tls_names[@]}
  declare -A hs
  for round in $(seq "$ROUNDS"); do
    for i in $(seq 0 $((m - 1))); do
      name=${tls_names[$(((i + round - 1) % m))]}
      while read -r line; do
        echo "$round $line" | tee -a "$RESULTS"
        set -- $line
        hs[$round.$name.$2]=$4
      done < <(WWW=/plaintext bash "$here/handshakes.sh" "$name" "${cmd[$name]}" new reuse)
    done
    for mode in new reuse; do
      ratios=""
      for name in "${tls_names[@]}"; do
        ratios+=" $name/carafe-https=$(awk -v a="${hs[$round.$name.$mode]:-0}" \
          -v b="${hs[$round.carafe-https.$mode]:-1}" 'BEGIN {printf "%.2f", a / b}')"
      done
      echo "# round $round, $mode handshakes, CPU:$ratios" | tee -a "$RESULTS"
    done
  done
fi

# Instructions: each TLS server once under callgrind.
if [ -n "${CALLGRIND:-}" ]; then
  modes=keepalive
  [ -n "${HANDSHAKES:-}" ] && modes+=" new reuse"
  echo "# NAME MODE OPERATIONS USER_INSTRUCTIONS_PER_OPERATION (callgrind)" | tee -a "$RESULTS"
  for name in "${names[@]}"; do
    [ "${scheme[$name]}" = https ] || continue
    for mode in $modes; do
      PORT=$(free_port)
      out=$work/callgrind.$name.$mode
      taskset -c 0 env PORT=$PORT ${envs[$name]} valgrind --tool=callgrind \
        --callgrind-out-file="$out.%p" ${bin[$name]} >"$out.log" 2>&1 &
      PID=$!
      for _ in $(seq 300); do
        curl -sk -o /dev/null --max-time 2 "https://127.0.0.1:$PORT/plaintext" && break
        sleep 0.2
      done
      SPID=$PID
      if [ $mode = keepalive ]; then
        load=(taskset -c 1 wrk -t1 -c"$CONNS" "https://127.0.0.1:$PORT/plaintext")
        "${load[@]}" -d"${WARM}s" >/dev/null 2>&1
        callgrind_control -z $PID >/dev/null 2>&1
        n=$("${load[@]}" -d"${DUR}s" | awk '/ requests in / {print $1}')
      else
        load=(taskset -c 1 openssl s_time -connect "127.0.0.1:$PORT" -$mode -www /plaintext ${PROTO:-})
        "${load[@]}" -time "$WARM" >/dev/null 2>&1
        callgrind_control -z $PID >/dev/null 2>&1
        n=$("${load[@]}" -time "$DUR" 2>&1 | awk '/real seconds/ {n = $1} END {print n}')
      fi
      callgrind_control -d $PID >/dev/null 2>&1
      sleep 1
      stop
      ir=$(callgrind_annotate "$(ls "$out".*.1 | head -1)" 2>/dev/null |
        awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
      awk -v name="$name" -v mode="$mode" -v n="${n:-0}" -v ir="${ir:-0}" \
        'BEGIN {printf "%s %s %d %.0f\n", name, mode, n, n ? ir / n : 0}' | tee -a "$RESULTS"
    done
  done
fi
