#!/usr/bin/env bash
# profile.sh - where the time of a job goes, per job, for the paths the
# benchmark measures.  Builds prof_jobexec (RelWithDebInfo) and runs it
# under the tools that are installed:
#
#   callgrind   instructions per job (repeatable, noise-free), with the
#               hottest functions: development mode, and the host side of
#               standalone fork-per-job and reuse
#   perf stat   CPU time, context switches and page faults per job, for
#               the limit, fork-per-job and reuse (software events: they
#               work in VMs without hardware counters)
#   perf sched  context switches per thread (main, dispatcher, keeper...)
#   strace -c   system calls per job, host and job processes together
#
#   bench/profile.sh [N_FORK] [N_REUSE]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BENCH_PROF_BUILD_DIR:-$root/build-bench-prof}
nfork=${1:-2000}
nreuse=${2:-20000}
ndev=100000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DJOBEXEC_BUILD_TESTS=OFF -DJOBEXEC_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" --target prof_jobexec >/dev/null
prof=$build/bench/prof_jobexec

have() { command -v "$1" >/dev/null 2>&1; }

# per N VALUE: VALUE / N with two decimals
per() { awk -v n="$1" -v v="$2" 'BEGIN { printf "%.2f", v / n }'; }

# The hottest functions of a callgrind_annotate listing, per job.
cg_top='/^ *[0-9,]+ \( *[0-9.]+%\)/ && !/PROGRAM TOTALS/ {
    v = $1; gsub(",", "", v); if (++k > top) next
    line = $0; sub(/^ *[0-9,]+ \( *[0-9.]+%\) +/, "", line); split(line, w, " ")
    m = split(w[1], part, ":"); file = part[1]; sub(".*/", "", file)
    printf "  %9.1f  %s (%s)\n", v / n, part[m], file }'

if have valgrind && have callgrind_annotate; then
    echo "== callgrind: instructions per job =="
    # Development mode: the whole program is the loop.
    valgrind --tool=callgrind --callgrind-out-file="$tmp/dev.cg" \
        "$prof" dev "$ndev" 2>"$tmp/dev.log"
    total=$(awk '/Collected :/ { print $NF }' "$tmp/dev.log" | tr -d ,)
    echo "development mode: $(per "$ndev" "$total") instructions per job (whole program)"
    callgrind_annotate --inclusive=no "$tmp/dev.cg" 2>/dev/null |
        awk -v n="$ndev" -v top=12 "$cg_top"
    # Standalone: the host process only (job processes write files of
    # their own, named by pid, which are dropped).
    for mode in fork reuse; do
        n=$nfork
        [[ $mode == reuse ]] && n=$nreuse
        [[ $mode == fork ]] && n=$((nfork < 500 ? nfork : 500))
        mkdir -p "$tmp/$mode"
        valgrind --tool=callgrind --callgrind-out-file="$tmp/$mode/cg.%p" \
            "$prof" "$mode" "$n" 2 2>"$tmp/$mode.log" &
        host=$!
        wait "$host"
        total=$(grep "^==$host== Collected" "$tmp/$mode.log" | awk '{ print $NF }' | tr -d ,)
        echo "standalone $mode, 2 workers: $(per "$n" "$total") host instructions per job"
        if grep -q "unhandled amd64-linux syscall: 434" "$tmp/$mode.log"; then
            echo "  (this valgrind lacks pidfd_open: the host ran its fallback without pidfds)"
        fi
        callgrind_annotate --inclusive=no "$tmp/$mode/cg.$host" 2>/dev/null |
            awk -v n="$n" -v top=8 "$cg_top"
    done
fi

if have perf && perf stat -e task-clock true >/dev/null 2>&1; then
    echo
    echo "== perf stat: per job (2 workers) =="
    printf '  %-8s %12s %12s %12s %12s\n' path "wall us" "cpu us" "ctx switch" "page faults"
    for spec in "limit $nfork" "fork $nfork" "reuse $nreuse"; do
        set -- $spec
        perf stat -x, -e duration_time,task-clock,context-switches,page-faults \
            -o "$tmp/stat.$1" "$prof" "$1" "$2" 2
        ev() { awk -F, -v e="$2" '$3 == e { print $1 }' "$tmp/stat.$1"; }
        printf '  %-8s %12s %12s %12s %12s\n' "$1" \
            "$(per "$2" "$(awk -v v="$(ev "$1" duration_time)" 'BEGIN { print v / 1000 }')")" \
            "$(per "$2" "$(awk -v v="$(ev "$1" task-clock)" 'BEGIN { print v * 1000 }')")" \
            "$(per "$2" "$(ev "$1" context-switches)")" "$(per "$2" "$(ev "$1" page-faults)")"
    done

    echo
    echo "== perf sched: context switches per job, by thread (fork, 2 workers) =="
    if perf record -q -e sched:sched_switch -o "$tmp/sw.data" \
        "$prof" fork "$nfork" 2 >/dev/null 2>&1; then
        perf script -i "$tmp/sw.data" -F pid,tid 2>/dev/null | sort | uniq -c |
            awk -v n="$nfork" '
                { split($2, id, "/"); c[NR] = $1; pid[NR] = id[1] + 0; tid[NR] = id[2] + 0
                  if ($1 >= n / 10 && (host == 0 || id[1] + 0 < host)) host = id[1] + 0 }
                END {
                    for (i = 1; i <= NR; i++) {
                        if (pid[i] == host && tid[i] == host) what = "host, main thread"
                        else if (pid[i] == host) what = "host, dispatcher thread"
                        else if (c[i] >= n / 10) what = "keeper process"
                        else { rest += c[i]; continue }
                        printf "  %-26s %6.2f\n", what, c[i] / n
                    }
                    printf "  %-26s %6.2f\n", "job processes", rest / n
                }'
    fi
fi

if have strace; then
    echo
    echo "== strace -c: system calls per job, host and job processes =="
    for spec in "fork $nfork" "reuse $nreuse"; do
        set -- $spec
        strace -f -c -o "$tmp/strace.$1" "$prof" "$1" "$2" 2
        echo "-- $1"
        awk -v n="$2" '/^ *[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9]+/ && $NF != "total" {
                if ($4 / n >= 0.5) printf "  %-16s %7.2f\n", $NF, $4 / n
            }' "$tmp/strace.$1" | sort -k2 -nr | head -16
    done
fi
