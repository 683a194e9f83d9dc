"""Work shared among forked copies of this process: each inherits what the parent built, only results come back."""

from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.connection
import os
import threading
from typing import Any, Callable, Generic, NamedTuple, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# What the workers of each fork_map run, by token. A worker forks after its entry is set, so it inherits the
# function and its items (closures and all); only results are pickled.
_inherited: dict[int, "_Shared"] = {}
_tokens = itertools.count()


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


class _Shared(NamedTuple):
    """What the workers of one fork_map share with the parent: the work and the next index no one has taken."""

    function: Callable[[Any], Any]
    items: Sequence[Any]
    claimed: Any  # a multiprocessing Value

    def claim(self) -> int | None:
        with self.claimed.get_lock():
            index = self.claimed.value
            if index >= len(self.items):
                return None
            self.claimed.value = index + 1
        return index


class Forked(Generic[R]):
    """A fork_map under way: the caller works on meanwhile and asks for the results when it needs them; from then
    on it takes the items no worker has taken yet too, so that no core waits while work is left."""

    def __init__(self, function: Callable[[T], R], items: Sequence[T], jobs: int) -> None:
        self._token = next(_tokens)
        self._local: list[R] | None = None
        self._shared: _Shared | None = None
        self._function, self._items = function, items
        self._processes: list[Any] = []
        self._received: dict[int, tuple[bool, Any]] = {}  # index -> (ok, result or exception)
        self._arrived = threading.Condition()
        self._reading = False
        if jobs > 1 and len(items) > 1 and can_fork():
            context = multiprocessing.get_context("fork")
            self._shared = _Shared(function, items, context.Value("q", 0))
            _inherited[self._token] = self._shared
            connections = []
            try:
                for _ in range(min(jobs, len(items))):
                    receiver, sender = context.Pipe(duplex=False)
                    process = context.Process(target=_work, args=(self._token, sender), daemon=True)
                    process.start()
                    sender.close()  # the worker's alone: its end of the pipe is the end of its results
                    self._processes.append(process)
                    connections.append(receiver)
            except OSError:  # no more processes could be started: the caller and those started do the work
                pass
            finally:
                _inherited.pop(self._token, None)  # a later fork need not inherit it
            self._reading = True
            self._reader = threading.Thread(target=self._read, args=(connections,), daemon=True)
            self._reader.start()

    def _read(self, connections: list[Any]) -> None:
        """Results as they come (a worker would wait on a full pipe), until every worker has closed its pipe."""
        waiting = list(connections)
        while waiting:
            for connection in multiprocessing.connection.wait(waiting):
                try:
                    index, ok, value = connection.recv()
                except (EOFError, OSError):
                    waiting.remove(connection)
                    connection.close()
                    continue
                with self._arrived:
                    self._received[index] = (ok, value)
                    self._arrived.notify_all()
        with self._arrived:
            self._reading = False
            self._arrived.notify_all()

    def results(self) -> list[R]:
        """function(item) of every item, in the items' order; a worker's exception is raised here."""
        if self._shared is None:
            if self._local is None:
                self._local = [self._function(item) for item in self._items]
            return self._local
        shared, self._shared = self._shared, None
        count = len(shared.items)
        failed = lambda: any(not ok for ok, _ in self._received.values())  # noqa: E731
        try:
            while (index := shared.claim()) is not None:
                outcome = _outcome(shared.function, shared.items[index])
                with self._arrived:
                    self._received[index] = outcome
                if not outcome[0]:
                    break
            with self._arrived:
                while self._reading and len(self._received) < count and not failed():
                    self._arrived.wait()
        finally:
            with self._arrived:
                unfinished = len(self._received) < count
            for process in self._processes:
                if unfinished and process.is_alive():
                    process.terminate()  # a failure, or the caller interrupted: the rest is not wanted
                process.join()
            self._reader.join()
        if failed():
            raise next(value for _, (ok, value) in sorted(self._received.items()) if not ok)
        if len(self._received) < count:
            codes = sorted({p.exitcode for p in self._processes} - {0})
            raise RuntimeError(f"a worker process stopped before it finished its work (exit status {codes})")
        self._local = [self._received[index][1] for index in range(count)]
        return self._local


def _outcome(function: Callable[[Any], Any], item: Any) -> tuple[bool, Any]:
    try:
        return True, function(item)
    except Exception as error:  # noqa: BLE001  (raised again in the caller)
        return False, error


def fork_map(function: Callable[[T], R], items: Sequence[T], jobs: int | None = None) -> Forked[R]:
    """Start function(item) for every item on up to `jobs` forked workers (default: one per core), which inherit
    the caller's memory; with one job, one item or no fork (not on this platform), the items are run in this
    process when the results are asked for. Return at once: `.results()` waits."""
    return Forked(function, items, default_jobs() if jobs is None else jobs)


def _work(token: int, sender: Any) -> None:
    """A worker: take the next item no one has taken, until none is left or one fails."""
    shared = _inherited[token]
    while (index := shared.claim()) is not None:
        ok, value = _outcome(shared.function, shared.items[index])
        try:
            sender.send((index, ok, value))
        except Exception as error:  # noqa: BLE001  (a result or an exception that cannot be pickled)
            ok = False
            sender.send((index, False, RuntimeError(f"the result of item {index} cannot be sent back: {error}")))
        if not ok:
            break
    sender.close()
