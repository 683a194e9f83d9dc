"""Work shared among forked workers: results in the items' order, whatever the jobs; the workers see what the
parent built before they forked (closures included); a worker's exception reaches the caller."""

from __future__ import annotations

import os

import pytest

from beskar import forking


def test_results_come_in_the_items_order_from_workers_that_inherit_the_parents_objects():
    built = {n: [n] * n for n in range(40)}  # not picklable by reference: only a fork inherits it as it is
    work = forking.fork_map(lambda n: (len(built[n]), os.getpid()), list(range(40)), jobs=2)
    results = work.results()
    assert [length for length, _ in results] == list(range(40))
    if forking.can_fork():
        assert os.getpid() not in {pid for _, pid in results}


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
