#!/usr/bin/env bash
# Installs what CI needs: stable clippy and rustfmt, a nightly with Miri and
# rust-src (for -Zbuild-std under ThreadSanitizer), and cargo-fuzz if missing.
set -euo pipefail
rustup component add clippy rustfmt
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
rustup component add miri rust-src rustfmt --toolchain nightly
cargo +nightly miri setup
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
