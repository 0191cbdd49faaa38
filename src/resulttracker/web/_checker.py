"""The dashboard's look at the store, off the request path.

A look at the store (the change feed's listing) costs as much as the store
makes it: ~0.8 s for a folder of 100,000 files, 100 LIST requests (20–40 s) on
S3. Made by the request that found the state too old, it would hold up that
page's poll for all of it. So :class:`StoreChecker` keeps looking in a thread
of its own, one look at a time, the next starting ``min_interval`` after the
previous ended, and requests answer at once from the latest state
(:class:`~resulttracker.web._records.ChangeLog` applies a look's outcome under
its lock only briefly).

* **Only while used.** The thread runs while requests came within
  ``idle_after`` seconds and then ends: a dashboard no page has open makes no
  LIST request. The next request starts it again and is answered from the
  last state; the page's next poll sees the fresh one.
* **The first request, or a state older than ``max_age``**, waits for a look
  of its own, made in the request (bounded by the store's operation
  timeouts). ``max_age`` 0 makes every request look, as the dashboard did
  before this module: no thread is started then.
* **Errors.** A look that failed is :attr:`ChangeLog.failure`; requests raise
  it (the app answers 502) until a look succeeds.
"""

from __future__ import annotations

import logging
import threading
import time

from ._records import ChangeLog

__all__ = ["StoreChecker"]

_logger = logging.getLogger("resulttracker")

#: The shortest pause between two looks of the thread (a min_interval of 0 must not spin).
_SHORTEST_PAUSE = 0.05


class StoreChecker:
    """Follows a :class:`ChangeLog`'s store in a daemon thread while requests come.

    Parameters
    ----------
    log : ChangeLog
        The state the requests answer from; its ``min_interval`` is the pause
        between two looks.
    idle_after : float
        Seconds without a request after which the thread stops looking.
    max_age : float
        A request finding the last successful look begun longer ago than this
        (or none yet) waits for a look of its own.
    """

    def __init__(self, log: ChangeLog, *, idle_after: float = 60.0, max_age: float = 600.0) -> None:
        self.log = log
        self.idle_after = idle_after
        self.max_age = max_age
        #: Looks made by the thread (tests count them).
        self.looks = 0
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._last_request = -float("inf")
        self._closed = False
        self._reported: str | None = None

    @property
    def running(self) -> bool:
        """Whether the thread is following the store."""
        with self._condition:
            return self._thread is not None

    def position(self, since: str | None) -> tuple[int, int | None]:
        """:meth:`ChangeLog.position` for a request: from the latest state,
        looking at the store in the request only when that state is missing or
        older than ``max_age``.

        Raises
        ------
        InvalidCursorError
            As :meth:`ChangeLog.position`.
        Exception
            The failure of the last look (:attr:`ChangeLog.failure`).
        """
        self.touch()
        log = self.log
        checked_at = log.checked_at
        if checked_at is None or time.monotonic() - checked_at >= self.max_age:
            return log.position(since)
        failure = log.failure
        if failure is not None:
            # Without its traceback: raised again by every request, it would grow.
            raise failure.with_traceback(None)
        return log.position(since, refresh=False)

    def touch(self) -> None:
        """Note a request; start the thread if it is not running."""
        with self._condition:
            self._last_request = time.monotonic()
            if self._closed or self._thread is not None or self.max_age <= 0:
                return
            self._thread = threading.Thread(
                target=self._run, name="resulttracker-dashboard-checker", daemon=True
            )
            self._thread.start()

    def close(self, timeout: float | None = 5.0) -> None:
        """Stop the thread (after the look under way, waiting up to ``timeout``
        seconds for it); later requests look at the store themselves."""
        with self._condition:
            self._closed = True
            thread = self._thread
            self._condition.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._condition:
                idle = time.monotonic() - self._last_request >= self.idle_after
                if self._closed or idle:
                    self._thread = None
                    return
            self._look()
            with self._condition:
                pause = max(self.log.min_interval, _SHORTEST_PAUSE)
                self._condition.wait(pause)  # woken early by close()

    def _look(self) -> None:
        try:
            self.log.refresh()
        except Exception as error:  # kept as log.failure; the requests report it
            message = f"{type(error).__name__}: {error}"
            if message != self._reported:
                _logger.warning("the dashboard's look at the store failed: %s", message)
                self._reported = message
        else:
            self._reported = None
        self.looks += 1
