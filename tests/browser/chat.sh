#!/usr/bin/env bash
# The chat example in a real browser: builds it, serves it on a free port, and drives two
# headless Chromium tabs through it (chat.mjs). Needs Debian's chromium and node; installs
# playwright-core here on first run. Usage: tests/browser/chat.sh [SCREENSHOT.png]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
shot=${1:-${TMPDIR:-/tmp}/carafe-chat.png}
command -v chromium >/dev/null || { apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; }
[ -f "$here/node_modules/playwright-core/package.json" ] ||
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
(cd "$root" && cargo build -q --features socketio --example chat)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PORT=$port "$root/target/debug/examples/chat" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  sleep 0.1
done
timeout 60 node "$here/chat.mjs" "http://127.0.0.1:$port/" "$shot"
