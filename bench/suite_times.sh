#!/usr/bin/env bash
# Wall and CPU time of the slow (server) suites and of the pipeline's unit tests, one run each,
# appended to bench/results/suite-times.txt with the commit and the machine's load. Wall time on a
# shared machine is noisy: compare runs taken under similar load, and prefer the CPU figures.
#   bash bench/suite_times.sh [label]
set -euo pipefail
cd "$(dirname "$0")/.."
label=${1:-$(git rev-parse --short HEAD)}
out=bench/results/suite-times.txt
TIMEFORMAT='real %3R s  user %3U s  sys %3S s'
run() {
  local name=$1
  shift
  local summary
  { time .venv/bin/python -m pytest "$@" -q -p no:cacheprovider >/tmp/suite-times-$$.log 2>&1 || true; } 2>/tmp/suite-times-$$.time
  summary=$(tail -n 1 /tmp/suite-times-$$.log)
  printf '%s | %-28s | %s | %s | load %s\n' "$label" "$name" "$(cat /tmp/suite-times-$$.time)" "$summary" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out"
}
run "slow suites" tests/proxy tests/edge tests/security
run "pipeline unit tests" tests/pipeline
rm -f /tmp/suite-times-$$.log /tmp/suite-times-$$.time
