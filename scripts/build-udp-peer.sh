#!/usr/bin/env bash
# Builds tests/interop/udp_peer (a node on Ockam's own UDP transport,
# ockam_transport_udp 0.72 from crates.io, as ockam 0.139 ships it) and prints
# the binary's path. Cached under ~/.cache/ockam-py-udp-peer/<hash of the
# sources>, so a run with unchanged sources takes no time; the first build
# takes about 10 minutes on 2 cores. The crate versions are those of
# ockam_command 0.139's Cargo.lock (the lock file is committed; --locked).
set -euo pipefail
cd "$(dirname "$0")/../tests/interop/udp_peer"
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup or apt-get install cargo)" >&2; exit 1; }
hash=$(cat Cargo.toml Cargo.lock src/*.rs | sha256sum | cut -c1-16)
root=${UDP_PEER_CACHE:-$HOME/.cache/ockam-py-udp-peer}
bin="$root/$hash/udp_peer"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
export CARGO_TARGET_DIR="$root/target"
cargo build --release --locked --quiet >&2 || { echo "the UDP interop peer did not build (cargo's output is above)" >&2; exit 1; }
mkdir -p "$root/$hash"
cp "$CARGO_TARGET_DIR/release/udp_peer" "$bin.tmp" && mv "$bin.tmp" "$bin"
echo "$bin"
