"""A pool of worker processes for image work, with a CPU-time budget per task.

Image work (QR decoding, face analysis, fingerprint extraction) runs native code
(zxing-cpp, dlib, OpenCV) that a hostile image can keep busy for tens of seconds and that
no Python-level check can interrupt. So each task runs in a worker process that arms
``ITIMER_PROF`` (process CPU time, all threads) with the budget and leaves ``SIGPROF`` at
its default action: when the budget is spent the kernel terminates the worker, wherever
it is. The parent sees the worker die of ``SIGPROF``, answers
:class:`WorkBudgetExceeded` (422) and starts a fresh worker for the next task. A wall
clock backstop (``wall_factor`` x budget + a fixed margin) also kills a worker that is
stuck without using CPU.

Workers are forked from a ``forkserver`` (never from the threaded server process itself),
started lazily, warmed once before their first task (models are loaded outside the
budget) and re-used. Each task is a picklable module-level callable and arguments; the
result or a :class:`GuardregError` comes back through a pipe (the error is rebuilt with
its code and extra fields; any other exception becomes a bare 500 without its message).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import threading
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar, cast

from registry.errors import GuardregError, InvalidInput, Unavailable

log = logging.getLogger("guardreg.workpool")

T = TypeVar("T")
READY_TIMEOUT_S = 120.0  # a fresh worker imports numpy, OpenCV and dlib, then warms up


class WorkBudgetExceeded(InvalidInput):
    """The image needed more CPU time than one request may use."""

    code = "work-budget-exceeded"
    title = "The image needs too much work to process"


class WorkFailed(GuardregError):
    """The worker died for another reason than its budget (crash, out of memory)."""

    status = 500
    code = "internal"
    title = "Internal error"


def _error_payload(exc: BaseException) -> tuple[str, Any]:
    if isinstance(exc, GuardregError):
        extra = {k: v for k, v in exc.extra.items()
                 if isinstance(v, (str, int, float, bool, type(None), list, tuple, dict))}
        return "guardreg", (type(exc), exc.detail, exc.code, extra)
    # Only the type: messages of unexpected errors may carry data we must not log or send.
    return "other", type(exc).__name__


def _rebuild(payload: tuple[type[GuardregError], str, str, dict[str, Any]]) -> GuardregError:
    cls, detail, code, extra = payload
    try:
        exc = cls.__new__(cls)
        GuardregError.__init__(exc, detail, code=code, **extra)
    except Exception:  # a subclass with an unusual constructor: keep status and code
        exc = GuardregError(detail, code=code, **extra)
        exc.status, exc.title = cls.status, cls.title
    return exc


def _worker_main(conn: multiprocessing.connection.Connection,
                 warm: Callable[[], None] | None) -> None:
    """The loop of one worker process."""
    # Native libraries must not start thread pools that share the budget unpredictably.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    signal.signal(signal.SIGPROF, signal.SIG_DFL)  # budget spent: the kernel ends us
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    if warm is not None:
        try:
            warm()
        except Exception as exc:  # report, but keep serving: the task will fail clearly
            log.warning("worker warm-up failed: %s", type(exc).__name__)
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        fn, args, kwargs, budget_s = message
        signal.setitimer(signal.ITIMER_PROF, budget_s)
        try:
            outcome: tuple[str, Any] = ("ok", fn(*args, **kwargs))
        except BaseException as exc:
            outcome = _error_payload(exc)
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        try:
            conn.send(outcome)
        except Exception as exc:  # an unpicklable result is a bug in the task
            conn.send(("other", type(exc).__name__))


class _Worker:
    def __init__(self, ctx: Any, warm: Callable[[], None] | None) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.process: BaseProcess = ctx.Process(target=_worker_main, args=(child, warm),
                                                daemon=True, name="guardreg-image-worker")
        self.process.start()
        child.close()
        self.ready = False

    def wait_ready(self) -> bool:
        if self.ready:
            return True
        try:
            if self.conn.poll(READY_TIMEOUT_S):
                kind, _ = self.conn.recv()
                self.ready = kind == "ready"
        except (EOFError, OSError):
            self.ready = False
        return self.ready

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.join(5)
        with contextlib.suppress(Exception):
            self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.send(None)
        with contextlib.suppress(Exception):
            self.process.join(2)
        if self.process.is_alive():
            self.kill()
        with contextlib.suppress(Exception):
            self.conn.close()


class WorkPool:
    """``workers`` processes; :meth:`run` blocks the calling thread until the task ends.

    ``cpu_budget_s``: CPU seconds a task may use (the worker is killed past it).
    ``acquire_timeout_s``: how long a request waits for a free worker before a 503.
    ``warm``: a picklable callable run once in each new worker before its first task.
    """

    def __init__(self, *, workers: int, cpu_budget_s: float, acquire_timeout_s: float = 30.0,
                 wall_factor: float = 10.0, wall_margin_s: float = 10.0,
                 warm: Callable[[], None] | None = None,
                 preload: tuple[str, ...] = ()) -> None:
        if workers < 1:
            raise ValueError("a work pool needs at least one worker")
        if cpu_budget_s <= 0:
            raise ValueError("the CPU budget must be positive")
        self.workers = workers
        self.cpu_budget_s = cpu_budget_s
        self.acquire_timeout_s = acquire_timeout_s
        self.wall_limit_s = cpu_budget_s * wall_factor + wall_margin_s
        self._warm = warm
        self._ctx = multiprocessing.get_context("forkserver")
        # Imported once by the fork server, so every worker starts with them loaded.
        self._ctx.set_forkserver_preload(list(preload))
        self._idle: queue.LifoQueue[_Worker | None] = queue.LifoQueue()
        for _ in range(workers):
            self._idle.put(None)  # a slot; the process starts on first use
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.killed = 0  # workers ended for their budget (for tests and metrics)
        self.submitted = 0  # tasks handed to a worker

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in a worker within the CPU budget."""
        if self._closed:
            raise Unavailable("the image work pool is closed", reason="pool-closed")
        try:
            worker = self._idle.get(timeout=self.acquire_timeout_s)
        except queue.Empty:
            raise Unavailable("all image workers are busy; retry",
                              reason="image-workers-busy") from None
        keep: _Worker | None = None
        try:
            if worker is None or not worker.process.is_alive():
                worker = self._start()
            keep = worker
            kind, payload = self._exchange(worker, (fn, args, kwargs, self.cpu_budget_s))
        except BaseException:
            if keep is not None:
                self._discard(keep)
            keep = None
            raise
        finally:
            self._idle.put(keep)
        if kind == "ok":
            return cast(T, payload)
        if kind == "guardreg":
            raise _rebuild(payload)
        log.error("image task failed: %s", payload)
        raise WorkFailed()

    def _start(self) -> _Worker:
        worker = _Worker(self._ctx, self._warm)
        with self._lock:
            self._all.add(worker)
        if not worker.wait_ready():
            self._discard(worker)
            raise Unavailable("an image worker could not start", reason="image-worker-start")
        return worker

    def _exchange(self, worker: _Worker, message: Any) -> tuple[str, Any]:
        self.submitted += 1
        try:
            worker.conn.send(message)
            if not worker.conn.poll(self.wall_limit_s):
                self.killed += 1
                raise WorkBudgetExceeded(
                    f"the image was still being processed after {self.wall_limit_s:.0f} s",
                    reason="wall-time", limit=self.wall_limit_s)
            result: tuple[str, Any] = worker.conn.recv()
            return result
        except (EOFError, OSError, BrokenPipeError):
            worker.process.join(5)
            code = worker.process.exitcode
            if code == -signal.SIGPROF:
                self.killed += 1
                raise WorkBudgetExceeded(
                    f"the image needs more than the {self.cpu_budget_s:g} CPU-seconds one "
                    "request may use", reason="cpu-time", limit=self.cpu_budget_s) from None
            log.error("image worker died (exit code %s)", code)
            raise WorkFailed() from None

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)

    def peak_rss_mb(self) -> float:
        """The largest peak resident set of the live workers (VmHWM), in MB."""
        peak = 0.0
        with self._lock:
            pids = [w.process.pid for w in self._all if w.process.pid is not None]
        for pid in pids:
            with contextlib.suppress(OSError, ValueError):
                for line in open(f"/proc/{pid}/status").read().splitlines():  # noqa: SIM115
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) / 1024)
        return peak

    def close(self) -> None:
        self._closed = True
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.stop()
