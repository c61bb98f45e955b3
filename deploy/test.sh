#!/usr/bin/env bash
# deploy/test.sh: proves the deployment in this folder on one machine.
#
# nginx (deploy/nginx.conf) in front of two instances of examples/behind_proxy.rs on
# Unix sockets, everything on 127.0.0.1 and high ports, every process started here and
# stopped by PID at the end:
#   1. through nginx: plain HTTP on both instances, X-Forwarded-For believed from nginx
#      only, a WebSocket echo, an event stream (deploy/check.py);
#   2. wrk through nginx for 20 s while each instance in turn is stopped gracefully
#      and started again: no non-2xx response and no socket error;
#   3. one instance on an inherited socket (as systemd hands it over) under direct load,
#      restarted: no refused connection;
#   4. Socket.IO across processes: two instances of examples/chat.rs (feature redis) on
#      the same Unix sockets, attached to a redis-server on PORT+2; clients on each
#      instance and one through nginx share a room, and examples/emitter.rs reaches all
#      of them (deploy/sio_check.py).
# Installs nginx, wrk and redis-server with apt-get if they are missing. Env: PORT
# (default 18080), PROFILE (debug or release, default debug).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
PORT=${PORT:-18080}
PROFILE=${PROFILE:-debug}

need() { command -v "$1" >/dev/null || { echo "installing $2" >&2; apt-get update -qq >/dev/null && apt-get install -y -qq "$2" >/dev/null; }; }
need nginx nginx
need wrk wrk
need curl curl
need redis-server redis-server

flag=$([ "$PROFILE" = release ] && echo --release || true)
(cd "$root" && cargo build -q $flag --example behind_proxy)
(cd "$root" && cargo build -q $flag --features redis --example chat --example emitter)
bin=$root/target/$PROFILE/examples/behind_proxy
chat=$root/target/$PROFILE/examples/chat
emitter=$root/target/$PROFILE/examples/emitter

tmp=$(mktemp -d /tmp/carafe-deploy.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid" 2>/dev/null)" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$tmp"/*.log; do echo "--- $f" >&2; tail -20 "$f" >&2; done; exit 1; }

# start_instance N [BINARY [PATH]]: instance N of BINARY (behind_proxy) on its Unix
# socket, answering PATH (/plaintext) once up; sets instance_pid[N].
declare -A instance_pid
start_instance() {
  local n=$1 binary=${2:-$bin} path=${3:-/plaintext}
  INSTANCE=app-$n HOST=unix:$tmp/app-$n.sock RUST_LOG=warn \
    CARAFE_PROXY_X_FOR=1 CARAFE_PROXY_X_PROTO=1 CARAFE_PROXY_X_HOST=1 \
    "$binary" >>"$tmp/app-$n.log" 2>&1 &
  instance_pid[$n]=$!
  pids+=($!)
  for _ in $(seq 100); do
    curl -s -o /dev/null --fail --unix-socket "$tmp/app-$n.sock" "http://x$path" && return 0
    sleep 0.05
  done
  fail "instance $n did not start"
}
stop_instance() {
  local n=$1 pid=${instance_pid[$1]}
  kill -TERM "$pid"
  wait "$pid" || fail "instance $n did not stop cleanly"
}

echo "== nginx in front of two instances on :$PORT"
start_instance 1
start_instance 2
sed -e "s#/run/carafe/#$tmp/#g" -e "s#listen 80;#listen 127.0.0.1:$PORT;#" \
  "$here/nginx.conf" >"$tmp/carafe.conf"
# Workers as this user: the sockets in $tmp are only ours (nginx warns and ignores
# this when not started as root).
cat >"$tmp/nginx.conf" <<CONF
user $(id -un) $(id -gn);
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $tmp/client_body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    include $tmp/carafe.conf;
}
CONF
nginx -t -q -c "$tmp/nginx.conf" -p "$tmp" 2>"$tmp/nginx-test.log" || fail "nginx rejects the config"
nginx -c "$tmp/nginx.conf" -p "$tmp" -g 'daemon off;' 2>>"$tmp/nginx-error.log" &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/plaintext" && break; sleep 0.05; done

python3 "$here/check.py" 127.0.0.1 "$PORT" || fail "checks through nginx"

echo "== wrk through nginx for 20 s, each instance restarted gracefully in turn"
wrk -t1 -c16 -d20s "http://127.0.0.1:$PORT/plaintext" >"$tmp/wrk-rolling.log" 2>&1 &
wrk_pid=$!
for n in 1 2; do
  sleep 4
  stop_instance "$n"
  echo "instance $n stopped"
  sleep 1
  start_instance "$n"
  echo "instance $n started again"
done
wait "$wrk_pid"
cat "$tmp/wrk-rolling.log"
grep -q "requests in" "$tmp/wrk-rolling.log" || fail "wrk did not run"
! grep -q "Non-2xx" "$tmp/wrk-rolling.log" || fail "non-2xx responses during the rolling restart"
! grep -q "Socket errors" "$tmp/wrk-rolling.log" || fail "socket errors during the rolling restart"
echo "ok: rolling restart through nginx, no non-2xx response, no socket error"

echo "== an inherited socket restarted under direct load"
direct=$((PORT + 1))
# The socket's owner, as systemd would be: it outlives each process it starts.
python3 - "$direct" "$bin" "$tmp" >"$tmp/holder.log" 2>&1 <<'PY' &
import os, signal, socket, subprocess, sys, time
port, binary, tmp = int(sys.argv[1]), sys.argv[2], sys.argv[3]
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(1024)
if listener.fileno() != 3:
    os.dup2(listener.fileno(), 3)
env = {k: v for k, v in os.environ.items() if k != "LISTEN_PID"}
env.update(LISTEN_FDS="1", RUST_LOG="warn")
def start(n):
    log = open(f"{tmp}/inherited-{n}.log", "w")
    return subprocess.Popen([binary], env=dict(env, INSTANCE=f"inherited-{n}"), pass_fds=(3,), stdout=log, stderr=log)
first = start(1)
open(f"{tmp}/holder.ready", "w").close()
time.sleep(4)
first.send_signal(signal.SIGTERM)
assert first.wait(timeout=20) == 0, "the first process did not stop cleanly"
print("first stopped", flush=True)
# Nobody accepts for a moment: connections wait in the backlog.
time.sleep(0.5)
second = start(2)
print("second started", flush=True)
time.sleep(5)
second.send_signal(signal.SIGTERM)
assert second.wait(timeout=20) == 0, "the second process did not stop cleanly"
print("second stopped", flush=True)
PY
holder=$!
pids+=($holder)
for _ in $(seq 100); do [ -f "$tmp/holder.ready" ] && break; sleep 0.05; done
sleep 0.5
wrk -t1 -c16 -d8s "http://127.0.0.1:$direct/plaintext" >"$tmp/wrk-inherited.log" 2>&1
wait "$holder" || fail "the socket holder failed: $(cat "$tmp/holder.log")"
cat "$tmp/wrk-inherited.log"
grep -q "requests in" "$tmp/wrk-inherited.log" || fail "wrk did not run"
if grep -q "Socket errors" "$tmp/wrk-inherited.log"; then
  connect=$(grep -o "connect [0-9]*" "$tmp/wrk-inherited.log" | awk '{print $2}')
  [ "${connect:-0}" = 0 ] || fail "$connect refused connections during the restart"
fi
echo "ok: restart on an inherited socket, no refused connection"

echo "== Socket.IO across two chat instances through Redis"
redis_port=$((PORT + 2))
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  >"$tmp/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && break; sleep 0.05; done
[ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] || fail "redis-server did not start"
# The same sockets nginx sends to: the behind_proxy instances make way for the chat.
export REDIS_URL=redis://127.0.0.1:$redis_port/
for n in 1 2; do
  stop_instance "$n"
  start_instance "$n" "$chat" /
done
# Both subscribed: PUBLISH says how many servers got a message (one they ignore).
for _ in $(seq 100); do
  [ "$(redis-cli -p "$redis_port" publish 'carafe-socketio#/probe#' probe)" = 2 ] && break
  sleep 0.05
done
[ "$(redis-cli -p "$redis_port" publish 'carafe-socketio#/probe#' probe)" = 2 ] ||
  fail "the chat instances did not subscribe"
timeout 60 python3 "$here/sio_check.py" --unix "$tmp/app-1.sock" --unix "$tmp/app-2.sock" \
  --tcp "127.0.0.1:$PORT" --emitter "$emitter" --redis-url "redis://127.0.0.1:$redis_port/" ||
  fail "Socket.IO across instances"
echo "deploy/test.sh passed"
