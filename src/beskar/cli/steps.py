"""How every live change is shown: progress while its steps run, then one line per step and how to resume."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from rich.markup import escape

from beskar.cli.output import err, out
from beskar.plan.steps import Outcome, Result, ResultType, Step

_COLOUR = {ResultType.COMPLETED: "green", ResultType.SKIPPED: "yellow", ResultType.FAILED: "red"}
Progress = Callable[[int, int, Step, Result], None]


@contextlib.contextmanager
def progress() -> Iterator[Progress]:
    """A progress callback for run_steps: a status line on a terminal, else one `[i/n] step ... result` line each."""
    if err.is_terminal:
        with err.status("") as status:
            yield lambda index, total, step, result: status.update(f"[{index}/{total}] {escape(step.name)}")
        return

    def line(index: int, total: int, step: Step, result: Result) -> None:
        reason = f": {result.message}" if result.message else ""
        err.print(escape(f"[{index}/{total}] {step.name} ... {result.type.value}{reason}"), soft_wrap=True)

    yield line


@dataclass(frozen=True)
class Tally:
    completed: int
    skipped: int
    failed: Outcome | None

    def as_json(self) -> dict[str, Any]:
        return {"completed": self.completed, "skipped": self.skipped, "failed": self.failed is not None}


def tally(outcomes: Sequence[Outcome]) -> Tally:
    return Tally(sum(1 for o in outcomes if o.result.type is ResultType.COMPLETED),
                 sum(1 for o in outcomes if o.result.type is ResultType.SKIPPED),
                 next((o for o in outcomes if o.result.type is ResultType.FAILED), None))


def outcome_json(outcome: Outcome, **extra: Any) -> dict[str, Any]:
    return {"step": outcome.step.name, "result": outcome.result.type.value, "message": outcome.result.message,
            **extra}


def show_outcomes(site: str, outcomes: Sequence[Outcome], again: str) -> Tally:
    """One line per step that ran, then the summary; a failure says what failed and that `again` resumes."""
    for outcome in outcomes:
        result = outcome.result
        out.print(f"[{_COLOUR[result.type]}]{result.type.value:9}[/] {escape(outcome.step.name)}"
                  + (f": {escape(result.message)}" if result.message else ""), soft_wrap=True)
    counted = tally(outcomes)
    if counted.failed is not None:
        err.print(f"[bold red]failed:[/] {escape(counted.failed.result.message)}", soft_wrap=True)
        err.print(f"{counted.completed} step(s) done before it; fix the cause and run `{escape(again)}` "
                  "again to resume.")
    elif outcomes:
        out.print(f"{escape(site)}: {counted.completed} step(s) done, {counted.skipped} skipped")
    else:
        out.print(f"{escape(site)}: nothing to do")
    return counted
