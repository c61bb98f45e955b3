#!/usr/bin/env bash
# tests/browser/pages.sh: the WebSocket and server-sent-events examples in a real
# browser (headless Chromium driven by playwright-core). Installs chromium (apt) and
# playwright-core (npm, into tests/browser/node_modules) if missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
command -v chromium >/dev/null || { apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; }
[ -f "$here/node_modules/playwright-core/package.json" ] || (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
(cd "$root" && cargo build -q --example websocket --example sse)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
start() { # start NAME PORT
  PORT=$2 RUST_LOG=warn "$root/target/debug/examples/$1" >"/tmp/carafe-browser-$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$2/" && return 0; sleep 0.05; done
  echo "FAIL: the $1 example did not start" >&2; exit 1
}
start websocket 18301
start sse 18302
node "$here/pages.mjs" http://127.0.0.1:18301/ http://127.0.0.1:18302/
