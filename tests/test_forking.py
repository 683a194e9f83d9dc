"""Work shared among forked workers: results in the items' order, whatever the jobs; the workers see what the
parent built before they forked (closures included); a worker's exception reaches the caller."""

from __future__ import annotations

import os
import time

import pytest

from beskar import forking


PARENT = os.getpid()


def test_results_come_in_the_items_order_from_workers_that_inherit_the_parents_objects():
    built = {n: [n] * n for n in range(40)}  # not picklable by reference: only a fork inherits it as it is

    def length(n):
        time.sleep(0.01)
        return len(built[n]), os.getpid()

    work = forking.fork_map(length, list(range(40)), jobs=2)
    results = work.results()
    assert [length for length, _ in results] == list(range(40))
    if forking.can_fork():
        assert {pid for _, pid in results} - {os.getpid()}  # workers did some


@pytest.mark.skipif(not forking.can_fork(), reason="no fork on this platform")
def test_the_caller_takes_what_no_worker_has_taken_once_it_waits():
    work = forking.fork_map(lambda n: time.sleep(0.05) or os.getpid(), list(range(20)), jobs=2)
    pids = work.results()
    assert os.getpid() in pids and len(set(pids)) >= 2


def _slow_here(n):
    if os.getpid() == PARENT:
        time.sleep(0.1)  # so that the workers surely take items
        return n
    return None


@pytest.mark.skipif(not forking.can_fork(), reason="no fork on this platform")
def test_a_worker_that_dies_is_an_error_not_a_wait():
    def die_in_a_worker(n):
        return _slow_here(n) if os.getpid() == PARENT else os._exit(3)

    with pytest.raises(RuntimeError, match=r"a worker process stopped before it finished its work \(exit status \[3\]\)"):
        forking.fork_map(die_in_a_worker, list(range(20)), jobs=2).results()


@pytest.mark.skipif(not forking.can_fork(), reason="no fork on this platform")
def test_a_result_that_cannot_be_sent_back_is_an_error():
    def unpicklable_in_a_worker(n):
        return _slow_here(n) if os.getpid() == PARENT else (lambda: n)

    with pytest.raises(RuntimeError, match="cannot be sent back"):
        forking.fork_map(unpicklable_in_a_worker, list(range(20)), jobs=2).results()


def test_one_job_runs_here_and_only_when_the_results_are_asked_for():
    seen = []
    work = forking.fork_map(lambda n: seen.append(n) or n * 2, [1, 2, 3], jobs=1)
    assert seen == []
    assert work.results() == [2, 4, 6] and seen == [1, 2, 3]
    assert work.results() == [2, 4, 6] and seen == [1, 2, 3]  # asked again: not run again


def test_a_workers_exception_is_raised_to_the_caller():
    def fail_on_three(n):
        if n == 3:
            raise ValueError(f"item {n} is bad")
        return n

    with pytest.raises(ValueError, match="item 3 is bad"):
        forking.fork_map(fail_on_three, list(range(6)), jobs=2).results()
