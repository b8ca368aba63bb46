#!/usr/bin/env bash
# Runs every fuzz target (or those named) for FUZZ_RUNS executions each, one at a time in one
# process (-jobs=1 -workers=1), over the committed seeds plus the local corpus (gitignored), with
# fuzz/dicts/<target>.dict when there is one, then
# replays fuzz/regressions. Prints: target | executions | seconds | result. Exits non-zero when a
# target crashed; the crashing input is under fuzz/artifacts/<target>/ and the log under
# fuzz/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")"
RUNS=${FUZZ_RUNS:-1000000}
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  mapfile -t TARGETS < <(RUSTC_BOOTSTRAP=1 cargo fuzz list)
fi
mkdir -p logs
RUSTC_BOOTSTRAP=1 cargo fuzz build
failed=0
printf '%-20s | %12s | %8s | %s\n' target executions seconds result
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t"
  start=$(date +%s)
  rc=0
  dict=()
  if [ -f "dicts/$t.dict" ]; then dict=(-dict="dicts/$t.dict"); fi
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- \
    -runs="$RUNS" -jobs=1 -workers=1 -print_final_stats=1 "${dict[@]}" >"logs/$t.run.log" 2>&1 || rc=$?
  secs=$(( $(date +%s) - start ))
  # With -jobs libFuzzer writes the job's own output to fuzz-0.log in the working directory.
  if [ -f fuzz-0.log ]; then mv fuzz-0.log "logs/$t.log"; else cp "logs/$t.run.log" "logs/$t.log"; fi
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "logs/$t.log" | grep -Eo '[0-9]+$' | tail -1 || true)
  if [ "$rc" -eq 0 ] && ! grep -q 'Test unit written' "logs/$t.log"; then result=ok; else result="CRASH (rc $rc)"; failed=1; fi
  printf '%-20s | %12s | %8s | %s\n' "$t" "${execs:-?}" "$secs" "$result"
done
# Known crashers stay fixed (or keep failing until they are): replay each once.
for f in regressions/*-[0-9]*; do
  [ -f "$f" ] || continue
  t=$(basename "$f"); t=${t%-*}
  if RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "$f" -- -runs=1 >"logs/regression-$(basename "$f").log" 2>&1; then
    printf '%-20s | %12s | %8s | %s\n' "$(basename "$f")" 1 0 "regression passes"
  else
    printf '%-20s | %12s | %8s | %s\n' "$(basename "$f")" 1 0 "REGRESSION STILL CRASHES"
    failed=1
  fi
done
exit $failed
