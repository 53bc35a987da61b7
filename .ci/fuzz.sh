#!/usr/bin/env bash
# Each cargo-fuzz target (fuzz/) for FUZZ_SECONDS (default 60) seconds, with
# AddressSanitizer (cargo-fuzz's default) and release optimisations plus
# debug assertions. A crash leaves its input in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
(cd fuzz && cargo +nightly fmt --check)
cargo +nightly fuzz build -O
for target in ops concurrent builder; do
    echo "-- fuzz $target for ${seconds}s"
    cargo +nightly fuzz run -O "$target" -- -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1
done
