"""Work shared among forked copies of this process: each inherits what the parent built, only results come back."""

from __future__ import annotations

import itertools
import multiprocessing
import os
from typing import Any, Callable, Generic, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# What the workers of each fork_map run, by token. A worker forks after its entry is set, so it inherits the
# function and its items (closures and all) and is sent only a token and an index; only results are pickled.
_inherited: dict[int, tuple[Callable[[Any], Any], Sequence[Any]]] = {}
_tokens = itertools.count()


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


class Forked(Generic[R]):
    """A fork_map under way: the caller works on meanwhile and asks for the results when it needs them."""

    def __init__(self, function: Callable[[T], R], items: Sequence[T], jobs: int) -> None:
        self._token = next(_tokens)
        self._local: list[R] | None = None
        self._pool = None
        self._async = None
        if jobs > 1 and len(items) > 1 and can_fork():
            _inherited[self._token] = (function, items)
            try:
                self._pool = multiprocessing.get_context("fork").Pool(min(jobs, len(items)))
                # One item per task, in order: the workers take the next as they finish, so unequal items balance.
                self._async = self._pool.map_async(_run_inherited, [(self._token, i) for i in range(len(items))],
                                                   chunksize=1)
            except OSError:  # no process could be started: the work is done here instead
                self._close()
        if self._async is None:
            self._function, self._items = function, items

    def results(self) -> list[R]:
        """function(item) of every item, in the items' order; a worker's exception is raised here."""
        if self._async is None:
            if self._local is None:
                self._local = [self._function(item) for item in self._items]
            return self._local
        try:
            return self._async.get()
        finally:
            self._close()

    def _close(self) -> None:
        _inherited.pop(self._token, None)  # a later fork need not inherit it
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None


def fork_map(function: Callable[[T], R], items: Sequence[T], jobs: int | None = None) -> Forked[R]:
    """Start function(item) for every item on up to `jobs` forked workers (default: one per core), which inherit
    the caller's memory; with one job, one item or no fork (not on this platform), the items are run in this
    process when the results are asked for. Return at once: `.results()` waits."""
    return Forked(function, items, default_jobs() if jobs is None else jobs)


def _run_inherited(task: tuple[int, int]) -> Any:
    token, index = task
    function, items = _inherited[token]
    return function(items[index])
