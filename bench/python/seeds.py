"""Python equivalents of crew bench's experiments (standard library only).

Usage: python3 seeds.py EXPERIMENT MODE WORKERS PARAMS_JSON
MODE is seq, threads or processes. Prints one JSON object:
{"seconds": wall time of the work, pool start and stop included,
 "pool_seconds": of that, starting and stopping the pool, "check": result}.
The isolation experiment instead prints a JSON line per result as it comes.
Written for crew; each experiment does the same work, split the same way,
as its Go counterpart in bench/experiments.go.
"""
import json
import os
import sys
import threading
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures import TimeoutError as FuturesTimeout
from multiprocessing import Pool


def is_prime_6k(n):
    if n <= 1:
        return False
    if n <= 3:
        return True
    if n % 2 == 0 or n % 3 == 0:
        return False
    i = 5
    while i * i <= n:
        if n % i == 0 or n % (i + 2) == 0:
            return False
        i += 6
    return True


def sum_primes_span(span):
    lo, hi, step = span
    return sum(n for n in range(lo, hi, step) if is_prime_6k(n))


def is_prime_trial(n):
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i += 1
    return n > 1


def has_divisor(args):
    n, lo, hi = args
    d = max(lo, 2)
    while d < hi and d * d <= n:
        if n % d == 0:
            return True
        d += 1
    return False


def parallel_is_prime(numbers, screen, chunk, mode, workers):
    # the same rounds as crew's: screen small divisors, then the survivors'
    # divisor ranges in waves of chunks, skipping numbers found composite
    with Mapper(mode, workers) as m:
        screened = m.map(has_divisor, [(n, 2, screen) for n in numbers])
        out = [not found and n >= 2 for n, found in zip(numbers, screened)]
        lo = screen
        while True:
            wave = [(i, (n, lo, lo + chunk)) for i, n in enumerate(numbers) if out[i] and lo * lo <= n]
            if not wave:
                return out
            for (i, _), found in zip(wave, m.map(has_divisor, [w for _, w in wave])):
                if found:
                    out[i] = False
            lo += chunk


MASK = (1 << 64) - 1


def sum_squares(n):
    return sum(x * x for x in range(n)) & MASK


def add(n):
    return n + n


_session = None


def init_session():
    # one opener per worker, like a requests.Session per thread/process
    global _session
    _session = urllib.request.build_opener()


_local = threading.local()


def download(url):
    opener = _session
    if opener is None:
        opener = getattr(_local, "opener", None)
        if opener is None:
            opener = _local.opener = urllib.request.build_opener()
    with opener.open(url, timeout=30) as resp:
        return len(resp.read())


pool_seconds = 0.0  # time spent starting and stopping pools


class Mapper:
    """One pool for the whole experiment, started when it is entered."""

    def __init__(self, mode, workers, initializer=None):
        self.mode, self.workers, self.initializer = mode, workers, initializer
        self.pool = None

    def __enter__(self):
        global pool_seconds
        start = time.perf_counter()
        if self.mode == "threads":
            self.pool = ThreadPoolExecutor(max_workers=self.workers)
        elif self.mode == "processes":
            self.pool = Pool(self.workers, initializer=self.initializer)
        elif self.initializer:
            self.initializer()
        if self.mode != "seq":
            pool_seconds += time.perf_counter() - start
        return self

    def __exit__(self, *exc):
        global pool_seconds
        start = time.perf_counter()
        if self.mode == "threads":
            self.pool.shutdown()
        elif self.mode == "processes":
            self.pool.close()
            self.pool.join()
        if self.mode != "seq":
            pool_seconds += time.perf_counter() - start

    def map(self, fn, items):
        if self.mode == "seq":
            return [fn(x) for x in items]
        if self.mode == "threads":
            return list(self.pool.map(fn, items))
        return self.pool.map(fn, items)


def run_map(fn, items, mode, workers, initializer=None):
    with Mapper(mode, workers, initializer) as m:
        return m.map(fn, items)


def counter(mode, workers, params):
    threads, increments = params["threads"], params["increments"]
    state = {"n": 0}
    lock = threading.Lock()

    def racy():
        for i in range(increments):
            n = state["n"]
            if i % params["yield_every"] == 0:
                time.sleep(0)  # a thread switch between the read and the write
            state["n"] = n + 1

    def locked():
        for _ in range(increments):
            with lock:
                state["n"] += 1

    target = racy if mode == "unsynchronised" else locked
    ts = [threading.Thread(target=target) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return state["n"]


def fault(task):
    index, kind, ms = task
    if kind == "crash":
        os._exit(3)  # the process ends at once, as on abort() or the OOM killer
    if kind == "hang":
        while True:  # ignores everything, as a read without a timeout would
            time.sleep(3600)
    time.sleep(ms / 1000)
    return index


def emit(line):
    print(json.dumps(line), flush=True)


def isolation(spec):
    """The batch with a crashing and/or a hanging task, on a
    ProcessPoolExecutor; a line per result as it comes. Python pools have no
    per-task timeout: as_completed's timeout is the nearest thing."""
    emit({"ready": True})
    tasks = []
    for i in range(spec["tasks"]):
        kind = "crash" if i == spec["crash"] else "hang" if i == spec["hang"] else ""
        tasks.append((i, kind, spec["task_ms"]))
    rounds = -(-spec["tasks"] // spec["workers"])
    patience = (rounds * spec["task_ms"] + spec["timeout_ms"]) / 1000
    with ProcessPoolExecutor(spec["workers"]) as ex:
        futures = {ex.submit(fault, t): t[0] for t in tasks}
        try:
            for f in as_completed(futures, timeout=patience):
                try:
                    f.result()
                    emit({"index": futures[f]})
                except Exception as e:
                    emit({"index": futures[f], "error": type(e).__name__ + ": " + str(e)})
        except FuturesTimeout:
            for f, i in futures.items():
                if not f.done():
                    emit({"index": i, "error": "TimeoutError: as_completed stopped waiting; the task runs on"})
    emit({"done": True})


def main():
    name, mode, workers, params = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
    if name == "isolation":
        isolation(params)
        return
    start = time.perf_counter()
    if name == "sum-primes":
        spans, owner = [], []
        k = params["strides"]
        for i in reversed(range(len(params["sums"]))):  # the costliest sum first
            for j in range(k):
                spans.append((2 + j, params["sums"][i] + 1, k))
                owner.append(i)
        sums = [0] * len(params["sums"])
        for i, v in enumerate(run_map(sum_primes_span, spans, mode, workers)):
            sums[owner[i]] += v
        check = "[" + " ".join(str(s) for s in sums) + "]"
    elif name == "is-prime":
        if mode == "seq":
            res = [is_prime_trial(n) for n in params["numbers"]]
        else:
            res = parallel_is_prime(params["numbers"], params["screen"], params["chunk"], mode, workers)
        check = "[" + " ".join("true" if r else "false" for r in res) + "]"
    elif name == "squares":
        res = run_map(sum_squares, [params["n"]] * params["tasks"], mode, workers)
        check = str(sum(res) & MASK)
    elif name == "overhead":
        check = str(sum(run_map(add, range(params["n"]), mode, workers)))
    elif name == "download":
        init = init_session if mode != "threads" else None
        check = str(sum(run_map(download, params["urls"], mode, workers, init)))
    elif name == "shared-counter":
        check = str(counter(mode, workers, params))
    else:
        sys.exit("unknown experiment " + name)
    print(json.dumps({"seconds": time.perf_counter() - start, "pool_seconds": pool_seconds, "check": check}))


if __name__ == "__main__":
    main()
