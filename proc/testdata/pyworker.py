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


class Call:
    def __init__(self, c):
        self.id, self.task, self.arg = c["id"], c["task"], c["arg"]
        self.cancelled = threading.Event()


class Chunk:
    """One task over an array of arguments, answered element by element."""

    def __init__(self, m):
        self.id, self.task, self.args = m["id"], m["task"], m["args"]
        self.cancelled = threading.Event()


class Element:
    """A chunk's element, run like a call; cancelling the chunk cancels it."""

    def __init__(self, chunk, arg):
        self.id, self.task, self.arg, self.cancelled = chunk.id, chunk.task, arg, chunk.cancelled


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


def wait(call, seconds, timeout):
    """Sleep, but stop early on cancel or the per-call timeout."""
    limit = seconds if timeout is None else min(seconds, timeout)
    if call.cancelled.wait(limit):
        raise TaskError("context canceled")
    if timeout is not None and limit == timeout and seconds > timeout:
        raise TaskError("timed out", "timeout")


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


def answer(call, timeout):
    """Run call and return its result frame's value and error fields."""
    try:
        return {"value": run(call, timeout)}
    except TaskError as e:
        return {"error": {"kind": e.kind, "message": str(e)}}
    except Exception as e:  # a "panic": keep the traceback, like Go's stack
        return {"error": {"kind": "panic", "message": "%s\n\n%s" % (e, traceback.format_exc())}}


def run(call, timeout):
    t, a = call.task, call.arg
    if t == "crewtest.square":
        return a * a
    if t == "crewtest.fail":
        raise TaskError(a)
    if t == "crewtest.panic":
        raise RuntimeError(a)
    if t == "crewtest.sleep":
        wait(call, a / 1000, timeout)
        return a
    if t == "crewtest.block":
        wait(call, 3600, timeout)
    if t == "crewtest.flaky":
        return flaky(a)
    if t == "crewtest.worker-id":
        if "crewtest.identity" not in STATE:
            STATE["crewtest.identity"] = random.getrandbits(63) | 1
        return STATE["crewtest.identity"]
    raise TaskError("crew: unknown task: %r" % t, "unknown_task")


def main():
    hello = read_frame()
    if not hello or hello.get("type") != "hello":
        sys.exit(2)
    for name in hello.get("inits") or []:
        if name != "crewtest.identity":
            write_frame({"type": "init_error", "error": {"kind": "unknown_task", "message": "no initializer " + name}})
            sys.exit(3)
        STATE[name] = random.getrandbits(63) | 1
    ms = hello.get("timeout_ms") or 0
    timeout = ms / 1000 if ms else None
    write_frame({"type": "ready", "pid": os.getpid()})

    queue, cond = [], threading.Condition()
    state = {"eof": False, "running": None, "cancelled": set()}

    def reader():
        while True:
            m = read_frame()
            with cond:
                if m is None:
                    state["eof"] = True
                elif m["type"] == "call":
                    queue.extend(Call(c) for c in m["calls"])
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
            call = queue.pop(0)
            skip = call.id in state["cancelled"]
            state["cancelled"].discard(call.id)
            state["running"] = None if skip else call
            if skip:
                call.cancelled.set()
            more = bool(queue)
        if isinstance(call, Chunk):
            # Successes go out together in values frames; a failure is sent
            # in order, in its own result frame.
            for arg in call.args:
                if call.cancelled.is_set():
                    res = {"error": {"message": "context canceled"}}
                else:
                    res = answer(Element(call, arg), timeout)
                if "error" in res:
                    pending.send(False)
                    write_frame(dict(res, type="result", id=call.id), flush=False)
                else:
                    pending.add(call.id, res["value"])
            pending.send(not more)
        else:
            res = {"error": {"message": "context canceled"}} if skip else answer(call, timeout)
            write_frame(dict(res, type="result", id=call.id), flush=not more)
        with cond:
            state["running"] = None
    OUT.flush()


if __name__ == "__main__":
    main()
