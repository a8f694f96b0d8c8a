#!/usr/bin/env python3
"""OpenBLAS float32 GEMM throughput through numpy, for comparison with `aim bench gemm`.

Same shapes as the C# benchmark: square 256..2048 (A @ B) and the AiM-B decode shapes x(M, K) @ W(N, K).T
for M in 1, 2, 16. One warm-up call, then repeats for --seconds per shape; the median time is reported.

How to run (Debian; PyPI is not needed):
    apt-get install -y python3-numpy libopenblas0-pthread
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/openblas_sgemm.py
Unset OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set on some of our machines) so OpenBLAS picks its own kernel.
Note: Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) picks its generic "Prescott" (SSE3) kernel on our 2-core
AVX-512 Xeon VM (5-9 GFLOP/s). For the AVX-512 kernel, the fair comparison, add OPENBLAS_CORETYPE=SkylakeX:
    env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/openblas_sgemm.py
The first output line names the kernel OpenBLAS chose.
Prints one JSON object per line with op, m, n, k, threads, ms, gflops (the keys of `aim bench gemm --json`)
and cpu_ms, the process CPU time per call (on a loaded machine, cpu_ms / threads estimates the quiet time).
"""
import argparse
import json
import os
import time

import numpy as np


def measure(op, m, n, k, trans_b, seconds, threads):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n), dtype=np.float32)
    c = np.empty((m, n), dtype=np.float32)
    bb = b.T if trans_b else b
    np.matmul(a, bb, out=c)
    times = []
    cpu0 = time.process_time()
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        np.matmul(a, bb, out=c)
        times.append(time.perf_counter() - t0)
    cpu_ms = (time.process_time() - cpu0) / len(times) * 1e3
    times.sort()
    ms = times[len(times) // 2] * 1e3
    return {"op": op, "m": m, "n": n, "k": k, "threads": threads, "ms": round(ms, 4),
            "gflops": round(2.0 * m * n * k / (ms * 1e6), 2), "cpu_ms": round(cpu_ms, 4)}


def openblas_core():
    """The kernel OpenBLAS selected (openblas_get_corename), or None when it cannot be asked."""
    import ctypes
    import ctypes.util
    for name in ("libopenblas.so.0", ctypes.util.find_library("openblas")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib.openblas_get_corename().decode()
        except (OSError, AttributeError):
            continue
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5)
    args = parser.parse_args()
    threads = int(os.environ.get("OPENBLAS_NUM_THREADS", os.cpu_count() or 1))
    shapes = [("square", s, s, s, False) for s in (256, 512, 1024, 2048)]
    for op, n, k in (("in_proj", 3352, 768), ("out_proj", 768, 1536), ("head", 16384, 768)):
        shapes += [(op, m, n, k, True) for m in (1, 2, 16)]
    print(json.dumps({"numpy": np.__version__, "openblas_core": openblas_core()}))
    for op, m, n, k, trans_b in shapes:
        print(json.dumps(measure(op, m, n, k, trans_b, args.seconds, threads)), flush=True)


if __name__ == "__main__":
    main()
