#!/usr/bin/env bash
# Loom models of the real table protocol (loom-tests/).
#
#   bash .ci/loom.sh            every model must pass
#   bash .ci/loom.sh --mutants  against each mutant, the models listed for it
#                               below must fail (and each model runs in its own
#                               process, since a model may abort)
#
# Both cfgs are needed: `epoch_cache_loom` swaps the library's atomics for
# loom's (src/sync.rs), `crossbeam_loom` (with crossbeam-epoch's `loom`
# feature) swaps crossbeam-epoch's. `fuzzing` compiles `Cache::validate`.
# Each model sets its own preemption bound: 3 where it fits, else 2.
set -euo pipefail
cd "$(dirname "$0")/../loom-tests"
BASE_FLAGS="--cfg crossbeam_loom --cfg epoch_cache_loom --cfg fuzzing"

# The models that must catch each mutant.
declare -A MUST_FAIL=(
    [free_on_unlink]="get_racing_replace get_racing_remove get_racing_eviction insert_racing_remove_of_present_key reader_holds_ref_across_eviction pinned_borrow_across_remove_and_reinsert iter_refs_outlive_next"
    [relaxed_publish]="get_racing_replace insert_racing_remove_of_present_key"
    [relaxed_claim]="exited_threads_hand_their_slots_to_new_ones"
)
# The model files run against each mutant: all of them, except that the
# per-thread slot mutant skips the table models, which take minutes and
# exercise slot claims only in passing.
declare -A FILES=(
    [free_on_unlink]="models flight iter threads"
    [relaxed_publish]="models flight iter threads"
    [relaxed_claim]="threads flight iter"
)

if [ "${1:-}" != "--mutants" ]; then
    cargo fmt --check
    RUSTFLAGS="$BASE_FLAGS" cargo clippy --release --all-targets -- -D warnings
    RUSTFLAGS="$BASE_FLAGS" cargo test --release -- --test-threads=2 --nocapture
    exit 0
fi

status=0

# flight_keeps_entry (a single-flight waiter handed the leader's entry instead
# of looking the key up again) is only unsafe once that entry is freed, and
# no loom model frees it while a waiter is parked: crossbeam's reclamation
# after a flight made loom report a non-deterministic model. The unit test
# `late_joiner_looks_up_again` (src/flight.rs) must fail against it instead.
echo "-- mutant flight_keeps_entry: the single-flight unit tests must fail"
if RUSTFLAGS="--cfg epoch_cache_mutant=\"flight_keeps_entry\"" CARGO_TARGET_DIR="target/mutant-flight_keeps_entry" \
    cargo test --manifest-path ../Cargo.toml --lib -q late_joiner_looks_up_again >/dev/null 2>&1; then
    echo "mutant flight_keeps_entry: late_joiner_looks_up_again should fail and passed"
    status=1
else
    echo "mutant flight_keeps_entry caught by: late_joiner_looks_up_again"
fi

for mutant in free_on_unlink relaxed_publish relaxed_claim; do
    export RUSTFLAGS="$BASE_FLAGS --cfg epoch_cache_mutant=\"$mutant\""
    export CARGO_TARGET_DIR="target/mutant-$mutant"
    logs="$CARGO_TARGET_DIR/logs"
    mkdir -p "$logs"
    cargo test --release --tests --no-run
    failed=""
    for file in ${FILES[$mutant]}; do
        models=$(cargo test --release -q --test "$file" -- --list 2>/dev/null | sed -n 's/: test$//p')
        for model in $models; do
            t0=$(date +%s)
            if timeout 300 cargo test --release -q --test "$file" -- --exact "$model" --nocapture >"$logs/$model.log" 2>&1; then
                echo "  $mutant / $model: passed ($(( $(date +%s) - t0 ))s)"
            else
                failed="$failed $model"
                why=$(grep -a -m1 -A1 'panicked at' "$logs/$model.log" | tail -n1 || true)
                echo "  $mutant / $model: FAILED ($(( $(date +%s) - t0 ))s): $why"
            fi
        done
    done
    if [ -z "$failed" ]; then
        echo "mutant $mutant: no model failed; the models need more teeth"
        status=1
    fi
    for model in ${MUST_FAIL[$mutant]}; do
        case " $failed " in
            *" $model "*) ;;
            *) echo "mutant $mutant: $model should fail and passed"; status=1 ;;
        esac
    done
    echo "mutant $mutant caught by:$failed"
done
exit $status
