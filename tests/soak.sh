#!/bin/sh
# Runs the soak test (tests/soak/main.rs) in release mode: thousands of connections doing
# keep-alive, pipelined, chunked and 100-continue requests with faults injected, then a
# check that descriptors and memory are back to their baseline.
#
#   SOAK_SECONDS      how long new sessions keep starting (60)
#   SOAK_CONNECTIONS  idle keep-alive connections held open between sessions (2000)
#   SOAK_CLIENTS      client threads (32)
#   SOAK_SEED         the seed of the session scripts (printed by every run)
#
# Client and server share the process, so each connection costs two descriptors: the
# soft limit is raised to the hard one. Extra arguments go to the test binary.
set -eu
cd "$(dirname "$0")/.."

hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -gt 65536 ]; then
    hard=65536
fi
ulimit -n "$hard"

export SOAK_SECONDS="${SOAK_SECONDS:-60}"
export SOAK_CONNECTIONS="${SOAK_CONNECTIONS:-2000}"
export SOAK_CLIENTS="${SOAK_CLIENTS:-32}"
exec cargo test --release --test soak -- --ignored --nocapture "$@"
