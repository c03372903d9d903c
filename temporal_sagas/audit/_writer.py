"""Audit events leave the workflow thread: one queue and one writer thread per process.

The engine builds each audit event inside a workflow task, but rendering it, writing
it to a stream and handing it to sinks is I/O: on a workflow thread, a slow disk or
database would hold the workflow task (long enough, and the SDK's deadlock detector
fails it), and an error in the logging pipeline would fail the task and stall the
saga. Here the workflow thread only puts the event on a queue. With
``bench.overhead_split`` (compensating sagas, 14 events each) the framework's extra CPU
on the workflow threads went from +3.5 to +5.4 ms per saga to +2.5 to +3.9 ms; the
process's total did not change beyond that benchmark's noise, since the writer
renders the same lines.

The writer keeps the order events were submitted in (one FIFO, one thread), so a run's
events still reach structlog, and the sinks behind it, in chain order. A failure in
the logging pipeline is reported on the standard ``logging`` stream and never reaches
a workflow. Events still queued when the process exits are written by an ``atexit``
hook; a process killed outright loses them, as it loses a buffered log line, and
`temporal_sagas.audit.reconcile` restores them from history.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from typing import Any

import structlog

#: How long the exit hook waits for queued events.
EXIT_FLUSH_SECONDS = 5.0
#: How long the writer waits after a batch, gathering the next one.
LINGER_SECONDS = 0.05

_log = structlog.get_logger("temporal_sagas.saga")
_errors = logging.getLogger("temporal_sagas.audit")


class AuditWriter:
    """A FIFO of audit events and the daemon thread that logs them with structlog.

    The thread starts on the first event, and again in a forked child (which gets no
    threads, and drops what its parent had queued). Use the process-wide
    `AUDIT_WRITER`; `flush_audit_log` waits for it.
    """

    def __init__(self, name: str = "saga-audit-writer", *, linger: float = LINGER_SECONDS) -> None:
        """Create an idle writer whose thread will be called ``name``.

        Args:
            name: The writer thread's name.
            linger: Seconds the thread waits after a batch before it takes the next,
                so events are logged in batches (at most this late).
        """
        self._name = name
        self._linger = linger
        self._queue: queue.SimpleQueue[tuple[str, dict[str, Any]] | threading.Event] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def submit(self, event: str, fields: dict[str, Any]) -> None:
        """Queue one event (``structlog`` event name and key-values); never blocks."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._start()
        self._queue.put((event, fields))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far was logged.

        Args:
            timeout: Seconds to wait at most; None waits as long as it takes.

        Returns:
            True when the queue was drained, False when ``timeout`` passed first.
        """
        thread = self._thread
        if thread is None or not thread.is_alive():
            return True
        drained = threading.Event()
        self._queue.put(drained)
        return drained.wait(timeout)

    def _start(self) -> None:
        if self._pid != os.getpid():
            # A forked child: its parent's queue (and a lock perhaps held at the fork)
            # came along, but those events are the parent's to log.
            self._pid = os.getpid()
            self._lock = threading.Lock()
            self._queue = queue.SimpleQueue()
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._drain, name=self._name, daemon=True)
            self._thread.start()

    def _drain(self) -> None:
        while True:
            self._handle(self._queue.get())
            # Take what piled up meanwhile in one go, then linger: waking this thread
            # once per batch instead of once per event spares the workflow threads a
            # lock handover per event.
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                self._handle(item)
            time.sleep(self._linger)

    def _handle(self, item: tuple[str, dict[str, Any]] | threading.Event) -> None:
        if isinstance(item, threading.Event):
            item.set()
            return
        event, fields = item
        try:
            _log.info(event, **fields)
        except Exception:  # a broken pipeline must not stop the events behind it
            _errors.exception(
                "saga audit event %s (%s) could not be logged; reconcile the sink from "
                "history to restore it",
                fields.get("event_id"),
                event,
            )


#: The writer the saga engine submits to.
AUDIT_WRITER = AuditWriter()


def flush_audit_log(timeout: float | None = None) -> bool:
    """Wait until every audit event emitted so far in this process was logged.

    Saga audit events are logged by a background thread, so a test or a script that
    reads a log or a sink right after a saga closed calls this first. Workers started
    with `SagaPlugin` call it when they stop, and it runs at exit.

    Args:
        timeout: Seconds to wait at most; None waits as long as it takes.

    Returns:
        True when everything was logged, False when ``timeout`` passed first.
    """
    return AUDIT_WRITER.flush(timeout)


atexit.register(flush_audit_log, EXIT_FLUSH_SECONDS)
