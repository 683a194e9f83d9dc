"""Progress of long builds and diffs on stderr: a rich bar on a terminal, one `[i/n] ... built` line otherwise."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Callable, Iterator

from rich.markup import escape

from beskar.cli.output import err

if TYPE_CHECKING:
    from beskar.operations.build import Built


def describe(event: Built) -> str:
    """`[3/39] prod-brno nova built`, `[4/39] head prod-brno keystone from the cache`."""
    stage = f"{event.stage} " if event.stage else ""
    how = "failed" if event.failed else "from the cache" if event.cached else "built"
    return f"[{event.done}/{event.total}] {stage}{event.site} {event.release} {how}"


@contextlib.contextmanager
def build_progress(shown: bool = True) -> Iterator[Callable[[Built], None] | None]:
    """A callback for BuildOptions.progress, or None when nothing may be shown (--format json keeps stderr for
    errors only)."""
    if not shown:
        yield None
        return
    if not err.is_terminal:
        yield lambda event: err.print(escape(describe(event)), soft_wrap=True, highlight=False)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as bar:
        tasks: dict[str, int] = {}

        def update(event: Built) -> None:
            if event.stage not in tasks:
                tasks[event.stage] = bar.add_task(event.stage or "building", total=event.total)
            task = tasks[event.stage]
            bar.update(task, completed=event.done, total=event.total,
                       description=escape(f"{event.stage + ' ' if event.stage else ''}{event.site} {event.release}"))
        yield update
