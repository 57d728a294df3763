"""A crew process worker in Python's standard library, from docs/protocol.md.

It implements the tasks of crew's conformance suite (package crewtest) so
that `go test ./proc -run Python` can check the protocol end to end.
"""
import json
import os
import random
import struct
import sys
import threading
import time
import traceback

PROTOCOL_VERSION = 2

IN = os.fdopen(3, "rb", buffering=0)
OUT = os.fdopen(4, "wb")
out_lock = threading.Lock()


def read_frame():
    hdr = IN.read(4)
    if len(hdr) < 4:
        return None
    (n,) = struct.unpack(">I", hdr)
    data = b""
    while len(data) < n:
        chunk = IN.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return json.loads(data)


def write_frame(obj, flush=True):
    data = json.dumps(obj, separators=(",", ":")).encode()
    with out_lock:
        OUT.write(struct.pack(">I", len(data)) + data)
        if flush:
            OUT.flush()


class TaskError(Exception):
    def __init__(self, message, kind=""):
        super().__init__(message)
        self.kind = kind


class Chunk:
    """One task over an array of arguments, answered element by element."""

    def __init__(self, m):
        self.id, self.task, self.args = m["id"], m["task"], m["args"]
        self.attempt = m.get("attempt") or 1
        self.cancelled = threading.Event()


class Values:
    """A chunk's finished successes, sent as one values frame by the main
    loop or, within a millisecond, by the flusher thread: the pool times
    elements from the previous answer, so finished ones must not wait."""

    def __init__(self):
        self.lock = threading.Lock()
        self.id, self.values = None, []

    def add(self, chunk_id, value):
        with self.lock:
            self.id = chunk_id
            self.values.append(value)

    def send(self, flush):
        with self.lock:
            if self.values:
                write_frame({"type": "values", "id": self.id, "values": self.values}, flush)
                self.values = []
            elif flush:
                with out_lock:
                    OUT.flush()


class Options:
    """The pool's hello: per-attempt timeout and retries with backoff."""

    def __init__(self, hello):
        ms = hello.get("timeout_ms") or 0
        self.timeout = ms / 1000 if ms else None
        self.retries = hello.get("retries") or 0
        self.backoff = (hello.get("backoff_ms") or 0) / 1000


def wait(chunk, seconds, timeout):
    """Sleep, but stop early on cancel or the per-attempt timeout."""
    limit = seconds if timeout is None else min(seconds, timeout)
    if chunk.cancelled.wait(limit):
        raise TaskError("context canceled")
    if timeout is not None and limit == timeout and seconds > timeout:
        raise TaskError("crew: task timed out", "timeout")


STATE = {}


def flaky(arg):
    n = 1
    while True:
        try:
            fd = os.open(os.path.join(arg["dir"], "attempt-%d" % n), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            n += 1
            continue
        os.close(fd)
        if n <= arg["fails"]:
            raise TaskError("flaky: attempt %d fails" % n, "permanent" if arg.get("permanent") else "")
        return n


def run(task, a, chunk, timeout):
    if task == "crewtest.square":
        return a * a
    if task == "crewtest.half":
        if a % 2:
            raise TaskError("%d is odd" % a)
        return a // 2
    if task == "crewtest.fail":
        raise TaskError(a)
    if task == "crewtest.panic":
        raise RuntimeError(a)
    if task == "crewtest.sleep":
        wait(chunk, a / 1000, timeout)
        return a
    if task == "crewtest.ignore":
        time.sleep(a / 1000)  # ignores cancellation: the pool kills this worker
        return a
    if task == "crewtest.block":
        wait(chunk, 3600, timeout)
    if task == "crewtest.flaky":
        return flaky(a)
    if task == "crewtest.worker-id":
        if "crewtest.identity" not in STATE:
            STATE["crewtest.identity"] = random.getrandbits(63) | 1
        return STATE["crewtest.identity"]
    raise TaskError("crew: unknown task: %r is not registered in this program" % task, "unknown_task")


def attempt(task, arg, chunk, opts):
    """Run one attempt; return its result frame's value or error fields."""
    try:
        return {"value": run(task, arg, chunk, opts.timeout)}
    except TaskError as e:
        return {"error": {"kind": e.kind, "message": str(e)}}
    except Exception as e:  # a "panic": the value, and the traceback as its stack
        value = str(e)
        one_line = " ".join(value.splitlines())
        return {"error": {"kind": "panic", "message": "crew: task panicked: " + one_line,
                          "value": value, "stack": traceback.format_exc()}}


def retry_delay(opts, n):
    """The wait before retry number n: backoff doubled per retry, capped
    at a minute, jittered within [d/2, d]."""
    d = min(opts.backoff * 2 ** (n - 1), 60.0)
    return d / 2 + random.uniform(0, d / 2)


def answer(chunk, arg, first, opts, pending):
    """Run one element under the attempt policy: retries of errors that
    are neither permanent nor an unknown task, each announced in a retry
    frame (after the answers before it), while not cancelled."""
    n = first
    while True:
        res = attempt(chunk.task, arg, chunk, opts)
        err = res.get("error")
        if err is None or n > opts.retries or err.get("kind") in ("permanent", "unknown_task") or chunk.cancelled.is_set():
            return res
        delay = retry_delay(opts, n)
        pending.send(False)
        write_frame({"type": "retry", "id": chunk.id, "attempt": n + 1, "delay_ms": int(delay * 1000)})
        if chunk.cancelled.wait(delay):
            return res
        n += 1


def main():
    write_frame({"type": "hello", "version": PROTOCOL_VERSION, "pid": os.getpid()})
    hello = read_frame()
    if not hello or hello.get("type") != "hello" or hello.get("version") != PROTOCOL_VERSION:
        sys.stderr.write("pyworker: the pool speaks another protocol: %r\n" % (hello,))
        sys.exit(2)
    for name in hello.get("inits") or []:
        if name != "crewtest.identity":
            write_frame({"type": "init_error", "error": {"kind": "unknown_task", "message": "no initializer " + name}})
            sys.exit(3)
        STATE[name] = random.getrandbits(63) | 1
    opts = Options(hello)
    write_frame({"type": "ready", "pid": os.getpid()})

    queue, cond = [], threading.Condition()
    state = {"eof": False, "running": None, "cancelled": set()}

    def reader():
        while True:
            m = read_frame()
            with cond:
                if m is None:
                    state["eof"] = True
                elif m["type"] == "chunk":
                    queue.append(Chunk(m))
                elif m["type"] == "cancel":
                    r = state["running"]
                    if r is not None and r.id == m["id"]:
                        r.cancelled.set()
                    else:
                        state["cancelled"].add(m["id"])
                cond.notify_all()
            if m is None:
                return

    pending = Values()

    def flusher():
        while True:
            time.sleep(0.001)
            pending.send(True)

    threading.Thread(target=reader, daemon=True).start()
    threading.Thread(target=flusher, daemon=True).start()
    while True:
        with cond:
            while not queue and not state["eof"]:
                cond.wait()
            if not queue:
                break
            chunk = queue.pop(0)
            if chunk.id in state["cancelled"]:
                state["cancelled"].discard(chunk.id)
                chunk.cancelled.set()
            state["running"] = chunk
            more = bool(queue)
        # Successes go out together in values frames; a failure is sent in
        # order, in its own result frame.
        first = chunk.attempt
        for arg in chunk.args:
            if chunk.cancelled.is_set():
                res = {"error": {"message": "context canceled"}}
            else:
                res = answer(chunk, arg, first, opts, pending)
            first = 1
            if "error" in res:
                pending.send(False)
                write_frame(dict(res, type="result", id=chunk.id), flush=False)
            else:
                pending.add(chunk.id, res["value"])
        pending.send(not more)
        with cond:
            state["running"] = None
    OUT.flush()


if __name__ == "__main__":
    main()
