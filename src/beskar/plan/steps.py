"""The step protocol (Sunbeam's): a plan is a list of steps; each says if it would be skipped, and runs to a result."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Callable, Protocol, Sequence


class ResultType(StrEnum):
    COMPLETED = "completed"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class Result:
    type: ResultType
    message: str = ""


class Step(Protocol):
    name: str
    description: str

    def is_skip(self) -> Result:
        """SKIPPED (with the reason) if running it now would change nothing or is not allowed, FAILED if that
        cannot be known (the step does not run), else COMPLETED."""

    def run(self) -> Result:
        """Do the step; FAILED carries a message that says what went wrong."""


@dataclass(frozen=True)
class Outcome:
    step: Step
    result: Result


def run_steps(steps: Sequence[Step], progress: Callable[[int, int, Step, Result], None] | None = None) -> list[Outcome]:
    """Run steps in order and stop at the first failure; the outcomes say how far it got.

    Running the same plan again after a failure or an interruption resumes: steps already done are
    either gone from a fresh plan or skip themselves.
    """
    outcomes: list[Outcome] = []
    for index, step in enumerate(steps, 1):
        result = step.is_skip()
        if result.type is ResultType.COMPLETED:
            result = step.run()
        outcomes.append(Outcome(step, result))
        if progress is not None:
            progress(index, len(steps), step, result)
        if result.type is ResultType.FAILED:
            break
    return outcomes
