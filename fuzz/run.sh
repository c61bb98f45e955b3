#!/usr/bin/env bash
# fuzz/run.sh [SECONDS] [TARGET...]: run each cargo-fuzz target for SECONDS (default 60),
# starting from the committed seeds. Installs cargo-fuzz if missing. Uses a nightly
# toolchain when one is installed, else the stable one with RUSTC_BOOTSTRAP=1 (cargo-fuzz
# needs nightly-only flags). A crash leaves its input in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
targets=${*:-exchange chunked router ws_frames socketio}
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi
for target in $targets; do
  mkdir -p "corpus/$target"
  # exchange and chunked read their first byte as "how many read sizes follow": a zero
  # byte makes each seed arrive in one read, as written. router and socketio take the
  # input as it is.
  for seed in seeds/"$target"/*; do
    name="corpus/$target/seed-$(basename "$seed")"
    [ -e "$name" ] || { if [ "$target" = router ] || [ "$target" = socketio ]; then cp "$seed" "$name"; else { printf '\0'; cat "$seed"; } > "$name"; fi; }
  done
  echo "== $target for ${seconds}s (${fuzz[*]})"
  "${fuzz[@]}" run "$target" "corpus/$target" -- -max_total_time="$seconds" -max_len=8192
done
