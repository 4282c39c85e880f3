"""The web app's job queue: a fixed number of worker threads, a bounded wait, places in line, cancel and deadline.

A request becomes a Job: a function run on a worker thread, and the events it reports (its place in line, each
step, the result or the error), read by the request's own response stream. Nothing else sees a job's events, so
one user's results cannot reach another's page. The stream cancels its job when the page goes away; the job's
work calls `job.check()` between steps, which raises once the job is cancelled or past its deadline.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
import uuid
from collections.abc import Callable

from ..errors import UnembedError
from ..secrets import redact

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """The page that asked for the job went away (or asked to stop): its work ends at the next check."""


class Busy(UnembedError):
    """The queue is full: the server is asked more than it can do now."""


class Job:
    """One request's work and its events. `events` is read on the event loop; workers report with `emit`."""

    def __init__(
        self,
        work: Callable[[Job], dict],
        loop: asyncio.AbstractEventLoop,
        deadline: float | None,
        cleanup: Callable[[], None] | None = None,
    ):
        self.id = uuid.uuid4().hex
        self.work = work
        self.cleanup = cleanup  # called once the job has ended or left the line (its uploads' folder removed)
        self.deadline = deadline  # seconds the work may run once started; None: unbounded
        self.events: asyncio.Queue[dict] = asyncio.Queue()
        self._loop = loop
        self._cancelled = threading.Event()
        self.started: float | None = None  # time.monotonic() when a worker took it
        self.done = False

    def emit(self, event: dict) -> None:
        """Report an event to the job's page (from any thread)."""
        try:
            self._loop.call_soon_threadsafe(self.events.put_nowait, event)
        except RuntimeError:  # the loop that reads the events has closed: nobody is listening
            pass

    def cancel(self) -> None:
        self._cancelled.set()

    def finish(self, event: dict) -> None:
        """The job's last event; its files are removed."""
        self.done = True
        if self.cleanup is not None:
            self.cleanup()
        self.emit(event)

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def check(self) -> None:
        """Raise Cancelled when the job was cancelled, JobTimeout when it has run past its deadline."""
        if self.cancelled:
            raise Cancelled()
        if self.deadline is not None and self.started is not None and time.monotonic() - self.started > self.deadline:
            raise JobTimeout(
                f"the job ran past this server's limit of {self.deadline:g} s and was stopped. Ask for fewer steps, or "
                "start the server with a longer --timeout."
            )


class JobTimeout(UnembedError):
    """A job ran past the server's deadline (`unembed serve --timeout`)."""


class JobQueue:
    """`workers` threads run jobs in the order they came; at most `waiting` jobs wait for one.

    Each waiting job hears its place in line whenever it changes. A job's work returns its result event (a
    dict); an UnembedError becomes an error event with its message; anything else is logged with its traceback
    and reported to the page as an internal error without it.
    """

    def __init__(self, *, workers: int = 1, waiting: int = 32, deadline: float | None = None):
        if workers < 1 or waiting < 1:
            raise ValueError(f"a job queue needs 1 or more workers and 1 or more waiting places; got {workers}, {waiting}.")
        self.workers, self.waiting, self.deadline = workers, waiting, deadline
        self._line: collections.deque[Job] = collections.deque()
        self._ready = threading.Condition()
        self._active: set[Job] = set()  # the jobs the workers run now
        self._closed = False
        self._threads = [threading.Thread(target=self._serve, name=f"unembed-job-{i}", daemon=True) for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def submit(self, work: Callable[[Job], dict], loop: asyncio.AbstractEventLoop, *, cleanup: Callable[[], None] | None = None) -> Job:
        """Queue `work`; Busy when every waiting place is taken (then `cleanup` is the caller's to run)."""
        job = Job(work, loop, self.deadline, cleanup)
        with self._ready:
            if self._closed or len(self._line) >= self.waiting:
                raise self.busy()
            self._line.append(job)
            job.emit({"type": "queued", "position": len(self._line), "running": self.running})
            self._ready.notify()
        return job

    @property
    def running(self) -> int:
        return len(self._active)

    @property
    def full(self) -> bool:
        """Whether a job submitted now would be refused (every waiting place taken, or shutting down)."""
        return self._closed or len(self._line) >= self.waiting

    def busy(self) -> Busy:
        if self._closed:
            return Busy("the server is shutting down. Try again once it is back.")
        return Busy(
            f"the server is busy: {self.running} job(s) running and {len(self._line)} waiting, the most it takes. Try again in a moment."
        )

    def withdraw(self, job: Job) -> None:
        """Cancel `job`: taken out of the line if it waits, stopped at its next check if it runs."""
        job.cancel()
        with self._ready:
            waiting = job in self._line
            if waiting:
                self._line.remove(job)
                self._tell_places()
        if waiting:
            job.finish({"type": "cancelled"})

    def close(self) -> None:
        """Stop taking jobs; cancel those waiting and those running (they stop at their next check; then the workers end)."""
        with self._ready:
            self._closed = True
            waiting = list(self._line)
            self._line.clear()
            for job in self._active:
                job.cancel()
            self._ready.notify_all()
        for job in waiting:
            job.cancel()
            job.finish({"type": "cancelled"})

    def _tell_places(self) -> None:
        for place, job in enumerate(self._line, start=1):
            job.emit({"type": "queued", "position": place, "running": self.running})

    def _serve(self) -> None:
        while True:
            with self._ready:
                while not self._line and not self._closed:
                    self._ready.wait()
                if self._closed:
                    return
                job = self._line.popleft()
                self._active.add(job)
                self._tell_places()
            try:
                self._run(job)
            finally:
                with self._ready:
                    self._active.discard(job)

    def _run(self, job: Job) -> None:
        job.started = time.monotonic()
        try:
            job.check()
            job.emit({"type": "started"})
            event = job.work(job)
        except Cancelled:
            log.info("job %s cancelled after %.1f s: its page went away or asked to stop", job.id, time.monotonic() - job.started)
            event = {"type": "cancelled"}
        except UnembedError as error:
            event = {"type": "error", "message": redact(str(error))}
        except Exception as error:  # a bug must not end the worker, nor show the page a traceback
            log.exception("job %s failed", job.id)
            event = {
                "type": "error",
                "message": redact(f"internal error ({type(error).__name__}: {error}); the server's log has the details."),
            }
        event["seconds"] = time.monotonic() - job.started
        job.finish(event)
