#!/usr/bin/env bash
# run.sh - builds libjobexec and the benchmark in Release, runs the whole
# suite, and draws the plots when gnuplot is installed.
#
#   bench/run.sh                  the full suite (about 5 to 10 minutes)
#   bench/run.sh --quick          small counts, well under a minute
#   bench/run.sh --only 2,4       some figures; any option of bench_jobexec
#
# The full suite writes bench/results/: results.txt (the tables),
# results.csv (every repetition), figN.dat (medians) and figN.svg/.png.
# Runs with --quick or --only write into the build directory instead, so
# that the published results stay whole.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BENCH_BUILD_DIR:-$root/build-bench}

partial=0
for a in "$@"; do
    case $a in --quick | --only | --reps) partial=1 ;; esac
done
if ((partial)); then
    out=${BENCH_RESULTS_DIR:-$build/bench-results}
else
    out=${BENCH_RESULTS_DIR:-$here/results}
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DJOBEXEC_BUILD_BENCH=ON -DJOBEXEC_BUILD_TESTS=OFF \
    -DJOBEXEC_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" \
    --target bench_jobexec jobexec_cli >/dev/null

command -v parallel >/dev/null ||
    echo "note: GNU parallel is not installed (apt-get install parallel): its row will be n/a" >&2

mkdir -p "$out"
rm -f "$out"/results.csv "$out"/results.txt "$out"/fig*.dat "$out"/fig*.svg "$out"/fig*.png
"$build/bench/bench_jobexec" --csv "$out/results.csv" --plots "$out" "$@" |
    tee "$out/results.txt"

if command -v gnuplot >/dev/null; then
    gnuplot -e "dir='$out'" "$here/plots.gp" 2>&1 | grep -v 'no valid points' >&2 || true
    echo "plots: $out/fig*.svg and fig*.png"
else
    echo "gnuplot is not installed (apt-get install gnuplot-nox): no plots"
fi
echo "results: $out/results.txt, $out/results.csv"

# A full run into bench/results refreshes the Results section of
# bench/README.md: the machine, the targets and the plots.
readme=$here/README.md
if ((!partial)) && [[ $out == "$here/results" ]] && grep -q '^<!-- results:begin -->$' "$readme"; then
    section=$(mktemp)
    {
        echo '<!-- results:begin -->'
        echo 'From the last full run of `bench/run.sh` ([all tables](results/results.txt),'
        echo '[raw values](results/results.csv)):'
        echo
        echo '```text'
        sed -n '/^jobexec benchmark suite/,/^  method/p' "$out/results.txt" | grep -v '^  method'
        echo
        sed -n '/^== Targets/,$p' "$out/results.txt"
        echo '```'
        for f in 2 3 4 5 6 7 1; do
            if [[ -f $out/fig$f.svg ]]; then
                printf '\n![figure %s](results/fig%s.svg)\n' "$f" "$f"
            fi
        done
        echo '<!-- results:end -->'
    } >"$section"
    awk -v sect="$section" '
        /^<!-- results:begin -->$/ { while ((getline l < sect) > 0) print l; skip = 1; next }
        /^<!-- results:end -->$/ { skip = 0; next }
        !skip { print }' "$readme" >"$readme.new"
    mv "$readme.new" "$readme"
    rm -f "$section"
    echo "updated the Results section of $readme"
fi
