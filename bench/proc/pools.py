"""Python's process pools on tiny tasks: squaring N ints.

Usage: python3 pools.py (executor|pool) N WORKERS
executor: concurrent.futures.ProcessPoolExecutor(WORKERS).map (chunksize 1,
its default); pool: multiprocessing.Pool(WORKERS).map (default chunksize).
The timing includes starting the pool, like crew's. Prints one JSON line.
"""
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import Pool


def square(n):
    return n * n


def main():
    kind, n, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    start = time.perf_counter()
    if kind == "executor":
        with ProcessPoolExecutor(workers) as ex:
            total = sum(x & 1 for x in ex.map(square, range(n)))
    else:
        with Pool(workers) as pool:
            total = sum(x & 1 for x in pool.map(square, range(n)))
    d = time.perf_counter() - start
    assert total == n // 2
    print(json.dumps({"mode": kind, "n": n, "workers": workers, "seconds": d, "tasks_per_s": n / d}))


if __name__ == "__main__":
    main()
