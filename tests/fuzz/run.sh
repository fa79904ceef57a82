#!/usr/bin/env bash
# Runs libFuzzer harnesses one after the other and reports, per harness, the executions, the
# coverage reached and the findings; exits non-zero when any harness has a finding.
#
#   tests/fuzz/run.sh SECONDS build-fuzz/fuzz_checkpoint build-fuzz/fuzz_npy ...
#
# Harness build-fuzz/fuzz_<format> starts from the seeds in tests/fuzz/corpus/<format>/ (never
# written to) and keeps the inputs it finds interesting in build-fuzz/corpus/<format>/, so later
# runs start where earlier ones stopped. A finding is saved in build-fuzz/findings/<format>/ and
# its report is in build-fuzz/logs/<format>.log; reproduce it with `build-fuzz/fuzz_<format> FILE`.
#
# What counts as a finding (libFuzzer's options below): a crash or sanitizer report, a leak, an
# exception other than mindiff::Error (it aborts), one input running over 10 s, or an
# allocation over 2 GB (or the process's memory passing 2 GB).
set -uo pipefail
cd "$(dirname "$0")/../.."

seconds=$1
shift
root=build-fuzz
total=0
parsers=0  # executions of the checkpoint, image, .npy and config harnesses together
failed=0
printf '%-12s %12s %10s %10s %9s\n' harness executions coverage features findings
for bin in "$@"; do
  name=${bin##*/fuzz_}
  work=$root/corpus/$name
  found=$root/findings/$name
  log=$root/logs/$name.log
  mkdir -p "$work" "$root/logs"
  rm -rf "$found" && mkdir -p "$found"
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
         -print_final_stats=1 -artifact_prefix="$found/" "$work" "tests/fuzz/corpus/$name" \
         >"$log" 2>&1
  status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  features=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  findings=$(find "$found" -type f | wc -l)
  if [ "$status" -ne 0 ] && [ "$findings" -eq 0 ]; then findings=1; fi  # died without an artifact
  printf '%-12s %12s %10s %10s %9s\n' "$name" "${execs:-0}" "${cov:-?}" "${features:-?}" "$findings"
  if [ "$findings" -ne 0 ]; then
    failed=1
    echo "  finding(s) in $found/; the report: $log"
    grep -m1 -E 'ERROR: |runtime error|==ERROR' "$log" | sed 's/^/  /'
  fi
  total=$((total + ${execs:-0}))
  case $name in checkpoint|image|npy|config) parsers=$((parsers + ${execs:-0})) ;; esac
done
echo "all harnesses: $total executions in ${seconds} s each;" \
     "the checkpoint, image, .npy and config parsers: $parsers"
if [ "$failed" -ne 0 ]; then echo "fuzzing found problems (above)"; exit 1; fi
echo "no findings"
