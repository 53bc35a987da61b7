#!/usr/bin/env bash
# The stress tests (tests/concurrent.rs, ignored ones included, and the
# weight churn of tests/weights.rs) under a
# sanitizer, on nightly:
#
#   bash .ci/sanitizers.sh address   AddressSanitizer (its LeakSanitizer on)
#   bash .ci/sanitizers.sh thread    ThreadSanitizer, std rebuilt with it
#                                    (-Zbuild-std), suppressions in tsan.supp
#   bash .ci/sanitizers.sh leak      LeakSanitizer alone: zero leaked bytes
set -euo pipefail
cd "$(dirname "$0")/.."
sanitizer=$1
target=$(rustc +nightly -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR="$PWD/target-verify/$sanitizer"
export RUSTFLAGS="-Zsanitizer=$sanitizer"
export RUSTDOCFLAGS="-Zsanitizer=$sanitizer"
build_std=()
case "$sanitizer" in
    address)
        export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1"
        # Entry blocks freed, not pooled (src/raw/pool.rs): a use after
        # free must hit freed memory to be seen.
        export RUSTFLAGS="$RUSTFLAGS --cfg epoch_cache_no_pool"
        ;;
    thread)
        build_std=(-Zbuild-std)
        # Pool off here too: TSan cannot see seize's fence-based ordering
        # between a reader and the reclaim (tsan.supp), and a pooled block's
        # next write is an insert's, in no suppressed frame.
        export RUSTFLAGS="$RUSTFLAGS --cfg epoch_cache_no_pool"
        export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/.ci/tsan.supp"
        ;;
    leak) export LSAN_OPTIONS="exitcode=23" ;;
    *) echo "unknown sanitizer $sanitizer" >&2; exit 2 ;;
esac
cargo +nightly test "${build_std[@]}" --target "$target" --test concurrent --test weights -- --include-ignored
