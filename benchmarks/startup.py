"""Benchmark: start-up of `beskar --help` and `beskar sites` (example fleet) against a bare `python -c pass`.

Whole processes, alternated run by run, medians of CPU seconds (user + sys of the child, which a
shared machine's load inflates less than wall time; wall medians are printed too). Goal (issue 17): each within 0.25 s of the bare
interpreter. With --against DIR (a checkout of another commit, e.g. `git worktree add /tmp/before HEAD~1`),
the same commands run from that checkout's src/ too, side by side.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import Figure, report  # noqa: E402
from render import child_env  # noqa: E402  (as an installed Beskar starts: from bytecode)

HERE = Path(__file__).resolve().parent.parent
EXAMPLE = HERE / "src" / "beskar" / "examples" / "fleet"
COMMANDS = {"python -c pass": ["-c", "pass"], "beskar --help": ["-m", "beskar", "--help"],
            "beskar sites": ["-m", "beskar", "sites", "--fleet", str(EXAMPLE)]}


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(arguments: list[str], source: Path) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one whole process."""
    env = {**child_env(source), "COLUMNS": "120"}
    cpu, start = _cpu(), time.perf_counter()
    subprocess.run([sys.executable, *arguments], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    return _cpu() - cpu, time.perf_counter() - start


def measure(sources: dict[str, Path], rounds: int) -> dict[tuple[str, str], list[tuple[float, float]]]:
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for label, source in sources.items():  # one warm-up each: the bytecode caches
        for name, arguments in COMMANDS.items():
            timed(arguments, source)
    for _ in range(rounds):
        for label, source in sources.items():
            for name, arguments in COMMANDS.items():
                times.setdefault((label, name), []).append(timed(arguments, source))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--against", type=Path, help="another checkout, e.g. the previous commit")
    parser.add_argument("--no-record", action="store_true", help="do not record the figures in benchmarks/figures.json")
    args = parser.parse_args()
    sources = {"this": HERE / "src"}
    if args.against:
        sources["against"] = args.against.resolve() / "src"
    times = measure(sources, args.rounds)
    print(f"start-up, whole processes, median of {args.rounds} alternated runs (seconds)")
    print(f"{'command':16} " + "  ".join(f"{label + ' cpu':>11} {'- bare':>7} {'wall':>7} {'- bare':>7}"
                                        for label in sources))
    for name in COMMANDS:
        cells = []
        for label in sources:
            cpu, wall = (statistics.median(t[i] for t in times[(label, name)]) for i in (0, 1))
            bare_cpu, bare_wall = (statistics.median(t[i] for t in times[(label, "python -c pass")]) for i in (0, 1))
            cells.append(f"{cpu:11.3f} {cpu - bare_cpu:7.3f} {wall:7.3f} {wall - bare_wall:7.3f}")
        print(f"{name:16} " + "  ".join(cells))
    print("goal: `beskar --help` and `beskar sites` at most 0.25 s over `python -c pass` (column - bare)")
    bare = statistics.median(t[0] for t in times[("this", "python -c pass")])
    report("startup", [Figure(f"{name}, CPU over python -c pass", statistics.median(t[0] for t in times[("this", name)])
                              - bare, "s", "at most 0.25 s") for name in COMMANDS if name != "python -c pass"],
           keep=not args.no_record)


if __name__ == "__main__":
    main()
