#!/usr/bin/env python3
"""peer_ppe.py - Python's concurrent.futures.ProcessPoolExecutor as a peer
of the jobexec benchmark (what Taipy runs its standalone jobs with).

Throughput (default): starts a pool, runs one task per worker to start the
workers, then times --tasks tasks submitted one by one with submit() until
every result is back, and prints

    jobs_per_s=<rate> context=<start method> tasks=<n> workers=<w>

Latency (--latency M): with one warm worker waiting, submits M tasks one at
a time; each returns time.monotonic_ns() read as it starts (CLOCK_MONOTONIC,
the clock the C side reads); prints

    p50_us=<x> p99_us=<y> context=<start method>

--mode reuse  the pool's default: workers live for the whole pool.
--mode mtpc1  max_tasks_per_child=1: a fresh process per task.

Python 3.11 refuses the 'fork' start method together with
max_tasks_per_child; the script then falls back to 'forkserver' (each worker
is forked from a small server process) and says so in context=.
"""
import argparse
import concurrent.futures as cf
import math
import multiprocessing as mp
import sys
import time
import warnings


def empty():
    return None


def burn(ns):
    start = time.thread_time_ns()
    while time.thread_time_ns() - start < ns:
        pass
    return None


def stamp():
    return time.monotonic_ns()


def make_pool(mode, context, workers):
    """Returns (pool, start method used)."""
    kwargs = {}
    if mode == "mtpc1":
        kwargs["max_tasks_per_child"] = 1
    tried = [context] + [c for c in ("forkserver", "spawn") if c != context]
    last = None
    for name in tried:
        try:
            ctx = mp.get_context(name)
            return cf.ProcessPoolExecutor(workers, mp_context=ctx, **kwargs), name
        except (ValueError, TypeError) as exc:
            last = exc
    raise SystemExit("cannot create a ProcessPoolExecutor: %s" % last)


def percentile(sorted_values, p):
    rank = max(1, min(len(sorted_values), math.ceil(p / 100.0 * len(sorted_values))))
    return sorted_values[rank - 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=("reuse", "mtpc1"), default="reuse")
    ap.add_argument("--context", default="fork")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--work-us", type=int, default=0)
    ap.add_argument("--latency", type=int, default=0)
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    pool, used = make_pool(args.mode, args.context, args.workers)
    with pool:
        # Start the workers before the clock.
        for f in [pool.submit(empty) for _ in range(args.workers)]:
            f.result()

        if args.latency > 0:
            lat = []
            for _ in range(args.latency):
                t0 = time.monotonic_ns()
                t1 = pool.submit(stamp).result()
                lat.append(t1 - t0)
            lat.sort()
            print("p50_us=%.3f p99_us=%.3f context=%s"
                  % (percentile(lat, 50) / 1e3, percentile(lat, 99) / 1e3, used))
            return 0

        work_ns = args.work_us * 1000
        t0 = time.perf_counter()
        if work_ns > 0:
            futures = [pool.submit(burn, work_ns) for _ in range(args.tasks)]
        else:
            futures = [pool.submit(empty) for _ in range(args.tasks)]
        for f in futures:
            f.result()
        elapsed = time.perf_counter() - t0
    print("jobs_per_s=%.3f context=%s tasks=%d workers=%d"
          % (args.tasks / elapsed, used, args.tasks, args.workers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
