"""Run the correlator in a child process, so it has an interpreter lock of its own.

Correlation is CPU work (the ORM, the engine); in the daemon's process it would take the
interpreter lock from the event loop that answers ingest, and a burst of new incidents
would slow every answer. `slad run` therefore starts one child process that serves the
correlator loop; the daemon keeps ingest, the API, the scheduler and the outbox.

The two talk over a socket pair: the daemon sends `w` (the inbox committed), `y` (the
inbox had to wait for the store: yield it more) and `s` (stop); the child sends `c` (a
correlation pass committed: the daemon re-arms its clocks and looks at the outbox at
once instead of at its next interval). A socket, unlike a shared lock, leaves nothing
held when the child is killed: the daemon reads end-of-file and starts another.
Callers waiting for outcomes (`?wait=true`) are released by the daemon itself, which
reads the lowest pending inbox id after each `c` and at least every `WAITER_POLL`
seconds while anyone waits.

A child that dies is restarted after `RESTART_PAUSE` seconds; accepted events wait in
the inbox meanwhile, and the backlog metrics show it.

The child runs at the daemon's own priority. Lowered (it once ran at `nice 5`, so that
answering ingest came first), it got what the daemon, the client and PostgreSQL left
of a short CPU: under a sustained storm on PostgreSQL, where no write lock paces the two,
it correlated 0.85 events for each one accepted and the backlog grew without end, while
at equal priority it kept up (0.98, the backlog bounded) and ingest accepted no less.
On SQLite the inbox's claim on the store (`yield_to_ingest`) is what puts ingest first.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import select
import signal
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing.process import BaseProcess

from sqlalchemy.orm import Session, sessionmaker

from daemon.config import Config
from daemon.correlator import Correlator, Waiters
from daemon.logs import configure
from daemon.notifier import Notifier, notifying_ingestor
from daemon.notify.templates import TemplateSet
from daemon.store.db import make_engine, session_factory

log = logging.getLogger("slad.ingest")

WAITER_POLL = 0.02  # seconds between looks at the inbox while a caller waits
RESTART_PAUSE = 1.0  # seconds before a dead child is started again
STOP_TIMEOUT = 10.0  # seconds the child gets to finish its pass when the daemon stops


def _send(sock: socket.socket, signal_byte: bytes) -> None:
    """Send one signal byte without blocking; a full buffer already carries a signal."""
    with contextlib.suppress(BlockingIOError, OSError):
        sock.send(signal_byte)


class SocketSignal:
    """The child's end: `wait` returns when the daemon wakes it; `s` or end-of-file
    (the daemon is gone) means stop."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.stopping = False
        self._contended = False

    def stop(self) -> None:
        self.stopping = True

    def wait(self, timeout: float | None = None) -> bool:
        ready, _, _ = select.select([self._sock], [], [], timeout)
        return bool(ready) and self.is_set()

    def clear(self) -> None:
        """Reading consumes the signals; nothing is left to clear."""

    def is_set(self) -> bool:
        """Whether the daemon signalled since the last look (consumes the signals)."""
        woken = False
        while select.select([self._sock], [], [], 0)[0]:
            data = self._sock.recv(4096)
            if not data or b"s" in data:
                self.stopping = True
                return True
            self._contended = self._contended or b"y" in data
            woken = True
        return woken

    def contended(self) -> bool:
        """Whether the daemon sent `y` since the last look (consumes it)."""
        self.is_set()
        contended, self._contended = self._contended, False
        return contended

    def is_stopping(self) -> bool:
        return self.stopping


def child_main(config: Config, sock: socket.socket) -> None:
    """The child's whole life: build a correlator on its own engine and serve it."""
    from daemon.services import system_clock  # the daemon's module imports this one

    configure(config.log.format, config.log.level)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the daemon tells us when to stop
    wake = SocketSignal(sock)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: wake.stop())
    sock.setblocking(True)
    engine = make_engine(config.database.url, echo=config.database.echo)
    notifier = Notifier(config.notify, TemplateSet.load(config.notify.templates_dir))
    correlator = Correlator(
        session_factory(engine),
        notifying_ingestor(config, notifier),
        system_clock,
        pass_seconds=config.ingest.correlation_pass_ms / 1000,
        after_commit=lambda: _send(sock, b"c"),
    )
    gc.freeze()  # what start-up built is never garbage: keep it out of every collection
    try:
        correlator.serve(wake, wake.is_stopping)
    finally:
        engine.dispose()


class CorrelatorProcess:
    """The daemon's handle on the child: start, wake, wait for outcomes, stop."""

    def __init__(
        self,
        config: Config,
        sessions: sessionmaker[Session],
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._config = config
        self._context = multiprocessing.get_context("spawn")
        self._on_change = on_change
        self._waiters = Waiters(sessions)
        self._process: BaseProcess | None = None
        self._sock: socket.socket | None = None
        self._watcher: threading.Thread | None = None
        self._stopping = threading.Event()
        self._up = False

    def start(self) -> None:
        if self._watcher is not None:
            return
        self._stopping.clear()
        self._spawn()
        self._watcher = threading.Thread(
            target=self._watch, name="slad-correlator-watch", daemon=True
        )
        self._watcher.start()

    def stop(self) -> None:
        """Let the child finish its pass and exit; kill it if it will not."""
        if self._watcher is None:
            return
        self._stopping.set()
        process, sock = self._process, self._sock
        if sock is not None:
            _send(sock, b"s")
        if process is not None:
            process.join(STOP_TIMEOUT)
            if process.is_alive():
                log.error("the correlator did not stop within %.0f s; killing it", STOP_TIMEOUT)
                process.kill()
                process.join()
        self._watcher.join()
        self._watcher = None
        if sock is not None:
            sock.close()
        self._process = self._sock = None
        self._up = False

    def wake(self) -> None:
        sock = self._sock
        if sock is not None:
            _send(sock, b"w")

    def yield_to_ingest(self) -> None:
        sock = self._sock
        if sock is not None:
            _send(sock, b"y")

    def settled(self, watermark: int) -> Future[None]:
        future = self._waiters.add(watermark)
        self.wake()
        return future

    def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        process = self._context.Process(
            target=child_main, args=(self._config, theirs), name="slad-correlator", daemon=True
        )
        process.start()
        theirs.close()
        ours.setblocking(False)
        self._process, self._sock, self._up = process, ours, True

    @property
    def running(self) -> bool:
        """Whether a child is alive to correlate (false from its death to its restart)."""
        return self._up

    def _watch(self) -> None:
        """Relay `c`, release waiters, and restart a child that died.

        Nothing may end this loop but a stop: a watcher that died would leave every later
        event uncorrelated with nobody noticing. A child killed while a wake-up byte was
        unread resets the socket instead of closing it; that is a death like any other.
        """
        while not self._stopping.is_set():
            try:
                if self._watch_once():
                    self._restart()
            except Exception:
                log.exception("the correlator watch failed; looking again in %.0f s", RESTART_PAUSE)
                self._stopping.wait(RESTART_PAUSE)

    def _watch_once(self) -> bool:
        """One look at the child's socket; whether the child is gone."""
        sock = self._sock
        if sock is None:
            return True
        ready, _, _ = select.select([sock], [], [], WAITER_POLL if self._waiters else 1.0)
        gone = False
        if ready:
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                data = b"-"
            except OSError:  # ConnectionResetError: the child died with bytes unread
                data = b""
            gone = not data
            if b"c" in data:
                self._on_change()
        try:
            self._waiters.release()
        except Exception:
            log.exception("could not read the inbox to release waiting callers")
        process = self._process
        return gone or process is None or not process.is_alive()

    def _restart(self) -> None:
        if self._stopping.is_set():
            return
        process, sock = self._process, self._sock
        self._sock, self._up = None, False
        if process is not None:
            if process.is_alive():  # its socket failed: it cannot be reached any more
                process.kill()
            process.join()
            log.error(
                "the correlator process exited with %s; restarting it in %.0f s"
                " (accepted events wait in the inbox meanwhile)",
                process.exitcode,
                RESTART_PAUSE,
            )
        if sock is not None:
            sock.close()
        if not self._stopping.wait(RESTART_PAUSE):
            self._spawn()
