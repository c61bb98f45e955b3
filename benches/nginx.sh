#!/usr/bin/env bash
# benches/nginx.sh [ROUNDS]
#   What nginx in front costs: `GET /plaintext` of examples/techempower.rs straight over TCP,
#   then through nginx (one worker, keep-alive upstream on a Unix socket, as deploy/ has
#   it), in ROUNDS interleaved rounds (default 3). Prints per run the requests/s and the
#   server CPU time per request (utime+stime over the measured window / requests) of
#   carafe and, through the proxy, of nginx's worker:
#     round N direct rps=R CARAFE_US
#     round N nginx  rps=R CARAFE_US NGINX_US
#   carafe and nginx share CPU 0; `wrk -t1 -c64` runs on CPU 1 (2 s warm-up, 8 s measured).
#   Installs wrk and nginx with apt-get if missing.
set -u
rounds=${1:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
for tool in wrk nginx; do
  command -v $tool >/dev/null || apt-get install -y -qq $tool >/dev/null
done
(cd "$root" && cargo build -q --release --example techempower) || exit 1
bin=$root/target/release/examples/techempower
dir=$(mktemp -d)
sock=$dir/app.sock
port=18800
direct=18801
cat >"$dir/nginx.conf" <<EOF
user root;
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    upstream app { server unix:$sock; keepalive 64; }
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        }
    }
}
EOF
ticks() { sed 's/.*) //' /proc/$1/stat | awk '{print $12 + $13}'; }
hz=$(getconf CLK_TCK)
measure() { # NAME URL PID...
  local name=$1 url=$2; shift 2
  taskset -c 1 wrk -t1 -c64 -d2s "$url" >/dev/null 2>&1
  local before=() p
  for p in "$@"; do before+=("$(ticks "$p")"); done
  local out req rps
  out=$(taskset -c 1 wrk -t1 -c64 -d8s "$url" 2>&1)
  req=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  local i=0 line="$name rps=$rps"
  for p in "$@"; do
    line="$line $(awk -v d=$(($(ticks "$p") - ${before[$i]})) -v hz="$hz" -v n="$req" \
      'BEGIN {printf "%.2f", d / hz * 1e6 / n}')"
    i=$((i + 1))
  done
  echo "$line"
}
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT
up() { for _ in $(seq 50); do curl -s -o /dev/null "$1" && return; sleep 0.1; done; }
for round in $(seq "$rounds"); do
  PORT=$direct RUST_LOG=warn taskset -c 0 "$bin" >/dev/null 2>&1 &
  app=$!
  up "http://127.0.0.1:$direct/plaintext"
  echo "round $round $(measure direct "http://127.0.0.1:$direct/plaintext" $app)"
  kill $app; wait $app 2>/dev/null
  HOST=unix:$sock CARAFE_PROXY_X_FOR=1 RUST_LOG=warn taskset -c 0 "$bin" >/dev/null 2>&1 &
  app=$!
  taskset -c 0 nginx -c "$dir/nginx.conf" &
  master=$!
  up "http://127.0.0.1:$port/plaintext"
  worker=$(pgrep -P $master | head -1)
  echo "round $round nginx  $(measure nginx "http://127.0.0.1:$port/plaintext" $app "$worker" | cut -d' ' -f2-)"
  kill $master $app; wait $master $app 2>/dev/null
done
