#!/usr/bin/env python3
# Peer for bench/gemm.bench.mjs: numpy float32 a @ b.T (the BLAS numpy links, usually OpenBLAS) on the
# same (M, N, K) shapes. Usage: numpy_matmul.py '[[M, N, K], ...]' [min_runs] [min_seconds]
# Prints one JSON object: numpy version, BLAS info, and per shape the median time of the timed runs
# (after warm-up) and GFLOP/s = 2*M*N*K / median.
import json
import statistics
import sys
import time


def openblas_core():
    """The kernel family OpenBLAS chose at load (what threadpoolctl reports as `architecture`), asked of the
    loaded library itself: openblas_get_corename / get_config, with or without scipy-openblas's prefix."""
    import ctypes
    import re
    out = {}
    with open("/proc/self/maps") as maps:
        libs = sorted({m.group(1) for line in maps for m in [re.search(r"(/\S*openblas\S*\.so\S*)", line)] if m})
    for path in libs:
        lib = ctypes.CDLL(path)
        for pre in ("scipy_openblas_", "openblas_"):
            for suf in ("64_", ""):
                for fn, key in (("get_corename", "corename"), ("get_config", "config")):
                    f = getattr(lib, pre + fn + suf, None)
                    if f is not None and key not in out:
                        f.restype = ctypes.c_char_p
                        out[key] = f().decode()
        if out:
            out["library"] = path
            break
    return out


def blas_info():
    try:
        from threadpoolctl import threadpool_info  # optional
        return threadpool_info()
    except Exception:
        pass
    info = {}
    try:
        import numpy as np
        cfg = np.show_config(mode="dicts")
        info = dict(cfg.get("Build Dependencies", {}).get("blas", {}))
    except Exception as e:  # older numpy: no dict mode
        info = {"error": str(e)}
    try:
        info.update(openblas_core())
    except Exception as e:
        info["corename_error"] = str(e)
    return info


def main():
    import numpy as np

    shapes = json.loads(sys.argv[1])
    min_runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    min_seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5
    rng = np.random.default_rng(0)
    results = []
    for m, n, k in shapes:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((n, k), dtype=np.float32)
        for _ in range(2):  # warm-up: thread pool start, page faults
            a @ b.T
        times = []
        start = time.perf_counter()
        while len(times) < min_runs or time.perf_counter() - start < min_seconds:
            t = time.perf_counter()
            a @ b.T
            times.append(time.perf_counter() - t)
            if len(times) >= 1000:
                break
        med = statistics.median(times)
        results.append({"m": m, "n": n, "k": k, "runs": len(times), "median_ms": med * 1e3,
                        "gflops": 2.0 * m * n * k / med / 1e9, "weights_gbs": 4.0 * n * k / med / 1e9})
    print(json.dumps({"numpy": np.__version__, "blas": blas_info(), "results": results}))


if __name__ == "__main__":
    main()
