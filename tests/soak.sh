#!/bin/sh
# soak.sh [MINUTES] - the soak run: mixed jobs in both modes (results of
# every size, failures, crashes, timeouts, cancels, captured output,
# commands, leftover children, graphs) for MINUTES (default 10), sampling
# RSS, open fds and zombie children between rounds.  Fails if fds or
# zombies grow at all, or RSS grows past its warmed-up level by more than
# 10% + 8 MiB.  Not part of any ctest run.
#
#   JOBEXEC_SOAK_BUILD   build directory (default: build-soak)
#   JOBEXEC_SOAK_CMAKE   extra cmake arguments, e.g. -DJOBEXEC_ASAN=ON
#   JOBEXEC_SOAK_SAMPLE  seconds between samples (default 10)
set -eu
minutes=${1:-10}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${JOBEXEC_SOAK_BUILD:-$root/build-soak}

# shellcheck disable=SC2086
cmake -S "$root" -B "$build" ${JOBEXEC_SOAK_CMAKE:-} >/dev/null
cmake --build "$build" --target soak_jobexec -j"$(nproc)" >/dev/null
log="$build/soak.csv"
echo "soak: $minutes minutes; samples in $log"
status=0
"$build/tests/soak_jobexec" "$((minutes * 60))" "${JOBEXEC_SOAK_SAMPLE:-10}" \
    "$log" || status=$?
tail -n 3 "$log"
if [ "$status" -ne 0 ]; then
    grep '^soak:' "$log" >&2 || true
    echo "soak: FAILED" >&2
    exit 1
fi
echo "soak: passed"
