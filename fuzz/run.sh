#!/bin/sh
# run.sh SECONDS - builds the libFuzzer targets with clang and runs each
# of them (the config fuzzer, then the result-frame reader's) for SECONDS
# (default 60) on its seed corpus.  New inputs go to a scratch corpus under
# the build directory; crashes are left there as crash-* files and make the
# script fail.
set -eu
seconds=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${JOBEXEC_FUZZ_BUILD:-$root/build-fuzz}

CC=clang cmake -S "$root" -B "$build" -DJOBEXEC_FUZZ=ON \
    -DJOBEXEC_BUILD_TESTS=OFF -DJOBEXEC_BUILD_EXAMPLES=OFF \
    -DJOBEXEC_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target fuzz_config fuzz_wire -j"$(nproc)"

work="$build/fuzz-work"
mkdir -p "$work/corpus"
cd "$work"
"$build/fuzz/fuzz_config" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -dict="$here/config.dict" "$work/corpus" "$here/corpus/config"

# The reader must hold no more than the bytes it was given justify, so a
# small malloc limit catches a header that makes it allocate what it claims.
mkdir -p "$work/corpus-wire"
"$build/fuzz/fuzz_wire" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=64 -max_len=300000 \
    -print_final_stats=1 "$work/corpus-wire" "$here/corpus/wire"
