"""Jobs, their bounded queue, and the worker processes that run them.

A :class:`WorkerPool` owns a temporary folder (one sub-folder per job, named by the job's id), a queue of at
most ``queue_limit`` waiting jobs and ``workers`` slots. Each slot is a thread that keeps one worker process
(``multiprocessing`` spawn: a fresh interpreter) and hands it one job at a time over a pipe, so the server's
event loop only ever reads and writes job records under a lock. Cancelling a running job ends its process;
the slot starts a fresh one and takes the next job. A process that dies (out of memory) fails its job, not
the server. Finished jobs expire ``expire_s`` after they ended: their record and folder are deleted.

Progress of a running job is an estimate: the time it has run over the time expected for its pixel count
from this server's finished jobs (the restore path has no progress hook); 1 when done.
"""
from __future__ import annotations

import math
import multiprocessing as mp
import multiprocessing.connection
import os
import secrets
import shutil
import signal
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = frozenset({DONE, FAILED, CANCELLED})
POLL_S = 0.05  # how often a slot looks at a running job's cancel flag
START_TIMEOUT_S = 300.0  # a worker process that is not ready by then counts as failed to start
STOP_TIMEOUT_S = 3.0
RETRY_START_S = 5.0  # a slot whose worker failed to start tries again after this long


class QueueFull(Exception):
    """The queue holds ``queue_limit`` jobs; ``retry_after``: seconds until a place is likely to free."""

    def __init__(self, limit: int, retry_after: int):
        super().__init__(f"the queue is full ({limit} jobs waiting); try again in {retry_after} s")
        self.retry_after = retry_after


class NotCancellable(Exception):
    """The job has already finished (done, failed or cancelled)."""


@dataclass(frozen=True)
class Task:
    """What a worker process runs: ``fn(**kwargs)``; ``fn`` must be importable (pickled by name)."""

    fn: Callable
    kwargs: dict


@dataclass(eq=False)
class Job:
    """One unit of work and what became of it. ``units``: its size for the time estimate (megapixels plus a
    fixed part); ``value``: what the task returned when done; ``error``: one line when failed."""

    id: str
    kind: str
    name: str
    folder: Path
    task: Task
    units: float = 0.1
    public: bool = True
    options: dict = field(default_factory=dict)
    status: str = QUEUED
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    expected_s: float = 1.0
    final_progress: float = 0.0
    value: Any = None
    error: str | None = None
    cancel_requested: bool = False

    def progress(self, now: float) -> float:
        """0 while queued, the estimate while running (at most 0.95), 1 when done."""
        if self.status == QUEUED:
            return 0.0
        if self.status == RUNNING:
            return round(min(0.95, (now - self.started) / self.expected_s), 3)
        return 1.0 if self.status == DONE else self.final_progress


class WorkerPool:
    """The queue and the workers of one server (see the module doc).

    init: ``(fn, kwargs)`` run once in every new worker process before its first job (e.g.
        :func:`gir.serve.worker.init_worker`). Use :meth:`start` and :meth:`close` (or ``with``).
    """

    def __init__(self, workers: int, queue_limit: int, expire_s: float, *, init: tuple[Callable, dict],
                 temp_parent: str | None = None):
        self.workers = int(workers)
        self.queue_limit = int(queue_limit)
        self.expire_s = float(expire_s)
        self.init = init
        self.temp_parent = temp_parent
        self.root: Path | None = None
        self._jobs: dict[str, Job] = {}
        self._queue: deque[Job] = deque()
        self._cv = threading.Condition()
        self._stopping = False
        self._slots: list[_Slot] = []
        self._janitor: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._seconds_per_unit = 5.0  # a first guess, replaced by what finished jobs measure
        self.counts = {DONE: 0, FAILED: 0, CANCELLED: 0, "worker_restarts": 0}

    # --- life
    def start(self) -> "WorkerPool":
        """Make the temporary folder and start the slots (their worker processes warm up in the background)."""
        self.root = Path(tempfile.mkdtemp(prefix="gir-serve-", dir=self.temp_parent))
        self._slots = [_Slot(self, i) for i in range(self.workers)]
        for slot in self._slots:
            slot.start()
        self._janitor = threading.Thread(target=self._expire_loop, name="gir-serve-janitor", daemon=True)
        self._janitor.start()
        return self

    def close(self) -> None:
        """Stop every worker process (running jobs end as cancelled) and delete the temporary folder."""
        self._stop_event.set()
        with self._cv:
            self._stopping = True
            for job in self._queue:
                self._end(job, CANCELLED, error="the server stopped")
            self._queue.clear()
            for job in self._jobs.values():
                if job.status == RUNNING:
                    job.cancel_requested = True
                    self._end(job, CANCELLED, error="the server stopped")
            self._cv.notify_all()
        for slot in self._slots:
            slot.join(timeout=STOP_TIMEOUT_S * 2)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "WorkerPool":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # --- jobs
    def new_folder(self) -> tuple[str, Path]:
        """A fresh job id and its (new, empty) folder inside the server's temporary folder."""
        job_id = secrets.token_hex(16)
        folder = self.root / job_id
        folder.mkdir()
        return job_id, folder

    def check_capacity(self) -> None:
        """Raise :class:`QueueFull` when a job submitted now would be refused."""
        with self._cv:
            if len(self._queue) >= self.queue_limit:
                raise QueueFull(self.queue_limit, self._retry_after())

    def submit(self, job: Job, front: bool = False) -> None:
        """Queue ``job`` (at the front with ``front``: short jobs a client waits for). Raises
        :class:`QueueFull` when the queue holds ``queue_limit`` jobs; the caller then deletes the folder."""
        with self._cv:
            if self._stopping:
                raise QueueFull(self.queue_limit, 5)
            if len(self._queue) >= self.queue_limit:
                raise QueueFull(self.queue_limit, self._retry_after())
            job.expected_s = self._expected(job.units)
            self._jobs[job.id] = job
            (self._queue.appendleft if front else self._queue.append)(job)
            self._cv.notify_all()

    def get(self, job_id: str, public: bool = True) -> Job | None:
        """The job of that id (a public one unless ``public`` is False), or None."""
        with self._cv:
            job = self._jobs.get(job_id)
        return job if job is not None and (job.public or not public) else None

    def view(self, job: Job) -> dict:
        """A consistent copy of a job's state: status, progress, queue position, times, value, error."""
        with self._cv:
            now = time.time()
            ahead = next((i for i, j in enumerate(self._queue) if j is job), None)
            return {"id": job.id, "status": job.status, "progress": job.progress(now), "name": job.name,
                    "queue_position": ahead, "created": job.created, "started": job.started,
                    "finished": job.finished, "value": job.value, "error": job.error, "options": job.options}

    def cancel(self, job_id: str, public: bool = True) -> str:
        """Cancel a queued job (taken off the queue) or a running one (its worker process is ended and
        replaced); -> the new status. Raises KeyError for an unknown id (or a job that is not public, unless
        ``public`` is False), :class:`NotCancellable` when it has finished."""
        with self._cv:
            job = self._jobs.get(job_id)
            if job is None or (public and not job.public):
                raise KeyError(job_id)
            if job.status in FINISHED:
                raise NotCancellable(f"job {job_id} has already finished ({job.status})")
            if job.status == QUEUED:
                self._queue.remove(job)
                self._end(job, CANCELLED, error="cancelled by the client")
                drop_inputs = True
            else:
                job.cancel_requested = True  # the slot ends the process within POLL_S
                self._end(job, CANCELLED, error="cancelled by the client")
                drop_inputs = False
        if drop_inputs:
            _clear_folder(job.folder)
        return CANCELLED

    async def wait(self, job: Job, poll_s: float = 0.05) -> None:
        """Until ``job`` has finished (an async poll: the event loop stays free)."""
        import anyio

        while job.status not in FINISHED:
            await anyio.sleep(poll_s)

    def remove(self, job: Job) -> None:
        """Forget a finished job now and delete its folder."""
        with self._cv:
            self._jobs.pop(job.id, None)
        shutil.rmtree(job.folder, ignore_errors=True)

    def stats(self) -> dict:
        """Counts for ``/v1/health``."""
        with self._cv:
            running = sum(1 for j in self._jobs.values() if j.status == RUNNING)
            return {"workers": self.workers, "workers_ready": sum(s.ready for s in self._slots),
                    "queued": len(self._queue), "running": running, "queue_limit": self.queue_limit,
                    "jobs_kept": len(self._jobs), "expire_s": self.expire_s, **self.counts}

    # --- used by the slots
    def _take(self) -> Job | None:
        """The next queued job, now running; None when the pool stops."""
        with self._cv:
            while not self._queue and not self._stopping:
                self._cv.wait()
            if self._stopping:
                return None
            job = self._queue.popleft()
            job.status, job.started = RUNNING, time.time()
            return job

    def _finish(self, job: Job, ok: bool, value: Any) -> None:
        """Record what a worker answered and learn its time; a job cancelled meanwhile stays cancelled and
        loses its files at once. Every finished job loses its input."""
        with self._cv:
            cancelled = job.status == CANCELLED
            if job.status not in FINISHED and ok:
                job.value = value
                self._end(job, DONE)
                self._learn(job)
            elif job.status not in FINISHED:
                self._end(job, FAILED, error=str(value))
        if cancelled:
            _clear_folder(job.folder)
        else:
            _clear_inputs(job)

    def count_restart(self) -> None:
        """One more worker process replaced (after a cancel or a crash)."""
        with self._cv:
            self.counts["worker_restarts"] += 1

    def _end(self, job: Job, status: str, error: str | None = None) -> None:
        """Set a final status (the lock is held)."""
        job.final_progress = job.progress(time.time())
        job.status, job.finished, job.error = status, time.time(), error
        self.counts[status] += 1
        self._cv.notify_all()

    def _learn(self, job: Job) -> None:
        seconds = job.finished - job.started
        self._seconds_per_unit = 0.7 * self._seconds_per_unit + 0.3 * seconds / job.units

    def _expected(self, units: float) -> float:
        return max(0.2, self._seconds_per_unit * units)

    def _retry_after(self) -> int:
        """Seconds until a worker is likely to take the next queued job (the lock is held)."""
        now = time.time()
        left = [j.started + j.expected_s - now for j in self._jobs.values() if j.status == RUNNING]
        return max(1, math.ceil(min(left))) if left else 5

    @property
    def stopping(self) -> bool:
        return self._stopping

    # --- expiry
    def expire(self, now: float | None = None) -> int:
        """Delete finished jobs that ended more than ``expire_s`` ago; -> how many."""
        now = time.time() if now is None else now
        with self._cv:
            old = [j for j in self._jobs.values() if j.status in FINISHED and now - j.finished > self.expire_s]
            for job in old:
                del self._jobs[job.id]
        for job in old:
            shutil.rmtree(job.folder, ignore_errors=True)
        return len(old)

    def _expire_loop(self) -> None:
        interval = min(30.0, max(0.2, self.expire_s / 4))
        while not self._stop_event.wait(interval):
            self.expire()


def _clear_inputs(job: Job) -> None:
    """Delete a finished job's input file (the result and report stay until the job expires)."""
    for path in job.folder.glob("input.*"):
        path.unlink(missing_ok=True)


def _clear_folder(folder: Path) -> None:
    """Delete what a job's folder holds (the folder stays until the job expires)."""
    for path in folder.iterdir() if folder.is_dir() else ():
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------------ slots
class _Slot(threading.Thread):
    """One place in the pool: a thread that keeps a worker process and runs one job at a time in it."""

    def __init__(self, pool: WorkerPool, index: int):
        super().__init__(name=f"gir-serve-slot-{index}", daemon=True)
        self.index = index
        self.pool = pool
        self.proc = None
        self.conn = None
        self.ready = False
        self.start_error: str | None = None

    def run(self) -> None:
        try:
            while not self.pool.stopping:
                if not self._ensure_worker():
                    self._fail_next_job()
                    continue
                job = self.pool._take()
                if job is None:
                    break
                self._run(job)
        finally:
            self._stop_worker()

    # --- the worker process
    def _ensure_worker(self) -> bool:
        """A live, initialised worker process (started now if needed); False when it could not start."""
        if self.proc is not None and self.proc.is_alive():
            return True
        self._stop_worker()
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        fn, kwargs = self.pool.init
        self.proc = ctx.Process(target=worker_main, args=(child, fn, kwargs), daemon=True,
                                name=f"gir-serve-worker-{self.index}")
        self.proc.start()
        child.close()
        self.conn = parent
        answer = self._receive(START_TIMEOUT_S)
        if answer is not None and answer[0] == "ready":
            self.ready, self.start_error = True, None
            return True
        self.start_error = answer[1] if answer else "the worker process did not start"
        self._stop_worker()
        return False

    def _receive(self, timeout: float):
        """The worker's next message, or None when it died or the time ran out (or the pool stops)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.pool.stopping:
            ready = mp.connection.wait([self.conn, self.proc.sentinel], timeout=POLL_S)
            if self.conn in ready:
                try:
                    return self.conn.recv()
                except (EOFError, OSError):
                    return None
            if self.proc.sentinel in ready:
                return None
        return None

    def _stop_worker(self) -> None:
        """End the worker process: ask, then terminate, then kill."""
        self.ready = False
        proc, conn, self.proc, self.conn = self.proc, self.conn, None, None
        if proc is None:
            return
        try:
            conn.send(None)
        except (OSError, ValueError):
            pass
        proc.join(timeout=0.5)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=STOP_TIMEOUT_S)
        if proc.is_alive():
            proc.kill()
            proc.join()
        conn.close()

    def _kill_worker(self) -> None:
        """End the worker process at once (a cancelled job): terminate, then kill."""
        proc = self.proc
        if proc is not None and proc.is_alive():
            proc.terminate()
            proc.join(timeout=STOP_TIMEOUT_S)
        self._stop_worker()
        self.pool.count_restart()

    def _fail_next_job(self) -> None:
        """After a failed start: wait a little, and fail one queued job with the reason so clients learn."""
        deadline = time.monotonic() + RETRY_START_S
        while time.monotonic() < deadline and not self.pool.stopping:
            time.sleep(POLL_S)
        with self.pool._cv:
            job = self.pool._queue.popleft() if self.pool._queue else None
            if job is not None:
                job.status, job.started = RUNNING, time.time()
        if job is not None:
            self.pool._finish(job, False, f"the worker could not start: {self.start_error}")

    # --- one job
    def _run(self, job: Job) -> None:
        """Send ``job`` to the worker and wait for its answer, its death or a cancel."""
        try:
            self.conn.send((job.task.fn, job.task.kwargs))
        except (OSError, ValueError) as e:
            self.pool._finish(job, False, f"the worker process could not take the job ({e})")
            self._stop_worker()
            return
        while True:
            ready = mp.connection.wait([self.conn, self.proc.sentinel], timeout=POLL_S)
            if self.conn in ready:
                try:
                    kind, value = self.conn.recv()
                except (EOFError, OSError):
                    self._worker_died(job)
                    return
                self.pool._finish(job, kind == "ok", value)
                return
            if job.cancel_requested or self.pool.stopping:
                self._kill_worker()
                if job.status == CANCELLED:
                    _clear_folder(job.folder)
                return
            if self.proc.sentinel in ready:
                self._worker_died(job)
                return

    def _worker_died(self, job: Job) -> None:
        """The worker process ended during ``job`` (killed for memory, crashed): fail the job, replace it."""
        self.proc.join(timeout=STOP_TIMEOUT_S)
        code = self.proc.exitcode
        self._stop_worker()
        self.pool.count_restart()
        self.pool._finish(job, False, f"the worker process stopped (exit code {code}; out of memory?)")


def worker_main(conn, init_fn: Callable, init_kwargs: dict) -> None:
    """The loop of a worker process: initialise, say ready, then run ``(fn, kwargs)`` messages one by one and
    answer ``("ok", value)`` or ``("error", one line)``; ``None`` or a closed pipe ends it. Ctrl+C is left to
    the server, which stops its workers itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        init_fn(**init_kwargs)
    except BaseException as e:  # noqa: BLE001 -- reported to the server, which keeps serving
        conn.send(("init-error", one_line(e)))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        fn, kwargs = message
        try:
            reply = ("ok", fn(**kwargs))
        except Exception as e:  # noqa: BLE001 -- a failed job, answered as such
            reply = ("error", one_line(e))
        conn.send(reply)


def one_line(e: BaseException) -> str:
    """An exception as one line: the message of the errors gir raises for users, else type and message."""
    from gir.errors import GirError

    text = " ".join(str(e).split())
    if isinstance(e, (GirError, OSError, ValueError)) or type(e).__name__ == "JobError":
        return text or type(e).__name__
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
