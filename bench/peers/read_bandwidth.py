#!/usr/bin/env python3
# Memory read bandwidth for bench/llama_cpp.bench.mjs: numpy float32 sums of a buffer larger than the last-level
# cache (default 1 GiB), split over N Python threads (numpy releases the GIL in the reduction), best of R passes.
# Usage: read_bandwidth.py [threads=2] [MiB=1024] [passes=5]. Prints one JSON object (bytes per second).
import json
import sys
import threading
import time


def main():
    import numpy as np

    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    mib = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
    passes = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    n = mib * (1 << 20) // 4
    a = np.ones(n, dtype=np.float32)  # written once: every page is resident
    parts = [a[i * n // threads:(i + 1) * n // threads] for i in range(threads)]
    sums = [0.0] * threads

    def work(i):
        sums[i] = float(parts[i].sum())

    times = []
    for _ in range(passes + 1):  # the first pass is a warm-up
        ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        t0 = time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        times.append(time.perf_counter() - t0)
    best = min(times[1:])
    assert abs(sum(sums) - n) < 1e-3 * n
    print(json.dumps({"threads": threads, "bytes": 4 * n, "best_s": best, "median_s": sorted(times[1:])[len(times[1:]) // 2],
                      "bytes_per_s": 4 * n / best, "numpy": np.__version__}))


if __name__ == "__main__":
    main()
