# plots.gp - draws the key figures of the benchmark suite from the
# figN.dat files bench_jobexec writes with --plots DIR (one row per
# parameter, one column of medians per peer).
#
#   gnuplot -e "dir='bench/results'" bench/plots.gp
#
# Writes figN.svg and figN.png into the same directory, for the figures
# whose data is there.

if (!exists("dir")) dir = "."
exists_file(f) = int(system(sprintf("[ -f '%s' ] && echo 1 || echo 0", f)))
dat(n) = sprintf("%s/fig%d.dat", dir, n)
ncols(f) = int(system(sprintf("head -n 1 '%s' | wc -w", f)))

set datafile missing "NaN"
set key autotitle columnheader
set grid ytics
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9

do for [term in "svg png"] {
    if (term eq "svg") {
        set terminal svg size 900,480 dynamic noenhanced background rgb "white" font "sans,12"
    } else {
        set terminal pngcairo size 900,480 noenhanced background rgb "white" font "sans,10"
    }
    ext = term

    if (exists_file(dat(1))) {
        set output sprintf("%s/fig1.%s", dir, ext)
        set title "1. Development mode: ns per empty job (lower is better)"
        set ylabel "ns per job"
        unset logscale y
        set yrange [0:*]
        set key top right
        plot for [c=2:ncols(dat(1))] dat(1) using c:xtic(1)
    }

    if (exists_file(dat(2))) {
        set output sprintf("%s/fig2.%s", dir, ext)
        set title "2. Standalone, empty function jobs: throughput (higher is better)"
        set ylabel "jobs/s (log scale)"
        set logscale y
        set yrange [1:*]
        set key outside right top vertical
        plot for [c=2:ncols(dat(2))] dat(2) using c:xtic(1)
    }

    if (exists_file(dat(3))) {
        set output sprintf("%s/fig3.%s", dir, ext)
        set title "3. Jobs of 1 ms of CPU, 2 workers: efficiency (higher is better)"
        set ylabel "useful time / (wall x workers)"
        unset logscale y
        set yrange [0:1.05]
        set key outside right top vertical
        plot for [c=2:ncols(dat(3))] dat(3) using c:xtic(1), \
             0.9 with lines dt 2 lc rgb "red" title "target 0.9"
    }

    if (exists_file(dat(4))) {
        set output sprintf("%s/fig4.%s", dir, ext)
        set title "4. Latency, submit to running in the child (lower is better)"
        set ylabel "microseconds (log scale)"
        set logscale y
        set yrange [1:*]
        set key outside right top vertical
        plot for [c=2:ncols(dat(4))] dat(4) using c:xtic(1)
    }

    if (exists_file(dat(5))) {
        set output sprintf("%s/fig5.%s", dir, ext)
        set multiplot layout 1,2 title "5. Queue scale (lower is better)"
        set style data linespoints
        set logscale y
        set yrange [*:*]
        set xlabel "jobs queued"
        set offsets 0.25, 0.25, 0, 0
        set title "cost per job"
        set ylabel "ns per job (log scale)"
        set key inside center right
        plot dat(5) using 0:"submit":xtic(1) title "submit", \
             '' using 0:"dispatch" title "dispatch (fork per job)", \
             '' using 0:"limit" title "limit at the same host size", \
             '' using 0:"cancel" title "cancel"
        set title "memory per queued job"
        set ylabel "bytes per job"
        unset logscale y
        set yrange [0:*]
        set key inside bottom right
        set yrange [0:600]
        plot dat(5) using 0:"rss":xtic(1) title "RSS", \
             '' using 0:"heap" title "heap in use", \
             512 title "target: 512" dt 2 lc rgb "red"
        unset multiplot
        unset xlabel
        set offsets 0, 0, 0, 0
        set style data histograms
    }

    if (exists_file(dat(6))) {
        set output sprintf("%s/fig6.%s", dir, ext)
        set title "6. Host scale: throughput, 2 workers (higher is better)"
        set style data linespoints
        set xlabel "host resident memory"
        set offsets 0.15, 0.15, 0, 0
        set ylabel "jobs/s (log scale)"
        set logscale y
        set yrange [*:*]
        set key outside right top vertical
        plot for [c=2:ncols(dat(6))] dat(6) using 0:c:xtic(1) lw 2 pt 7
        unset xlabel
        set offsets 0, 0, 0, 0
        set style data histograms
    }

    if (exists_file(dat(7))) {
        set output sprintf("%s/fig7.%s", dir, ext)
        set title "7. Command jobs: /bin/sh -c true, 2 at a time (higher is better)"
        set ylabel "commands/s"
        unset logscale y
        set yrange [0:*]
        set key outside right top vertical
        plot for [c=2:ncols(dat(7))] dat(7) using c:xtic(1)
    }
    unset output
}
