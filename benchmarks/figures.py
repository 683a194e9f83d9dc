"""The benchmarks' figures on record: this run beside the previous commit's, and the README's table made from them.

Each benchmark that measures a goal records its figures in benchmarks/figures.json under its name, with the commit it
measured (`+dirty` when src/ or benchmarks/ had uncommitted changes), the date and the machine's load; the entry
recorded for an earlier commit becomes `previous`. It prints the two side by side. `python benchmarks/figures.py
readme` writes the README's performance table from the file (`--check` only says whether the README is current,
exit 1 if not); `python benchmarks/figures.py show` prints every benchmark's figures beside the previous commit's.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
FIGURES = HERE / "figures.json"
README = HERE.parent / "README.md"
BEGIN, END = "<!-- figures:begin -->", "<!-- figures:end -->"


class Figure(NamedTuple):
    """One measured figure: what it is, its value in `unit` (s, x, %, MiB, 1/n), and the goal it answers to."""

    label: str
    value: float
    unit: str
    goal: str = ""


def shown(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "MiB":
        return f"{value:.0f} MiB"
    if unit == "1/n":  # 1/2.5, not 1/2; 1/33, not 1/33.4
        return f"1/{value:.2g}" if value < 10 else f"1/{value:.0f}"
    if unit == "s":
        return f"{value:.3f} s" if value < 1 else f"{value:.2f} s"
    return f"{value:g} {unit}".strip()


def commit_of(repository: Path = HERE.parent) -> str:
    """The commit the code under measure is at; `+dirty` when src/ or benchmarks/ differ from it."""
    def git(*arguments: str) -> str:
        return subprocess.run(["git", "-C", str(repository), *arguments], capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        commit = git("rev-parse", "--short", "HEAD")
        changed = [line for line in git("status", "--porcelain", "--", "src", "benchmarks").splitlines()
                   if not line.endswith("benchmarks/figures.json")]
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if changed else "")


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: not a record of figures (a JSON object by benchmark)")
    return data


def _entry(figures: list[Figure], commit: str, date: str, machine: str, command: str) -> dict[str, Any]:
    return {"commit": commit, "date": date, "machine": machine, "command": command,
            "figures": [{"label": f.label, "value": round(f.value, 6), "unit": f.unit, "goal": f.goal}
                        for f in figures]}


def record(benchmark: str, figures: list[Figure], path: Path = FIGURES, *, commit: str | None = None,
           date: str | None = None, machine: str | None = None, command: str | None = None) -> None:
    """This run's figures become the benchmark's entry; the entry of an earlier commit becomes `previous` (a run
    again on the same commit replaces this run's entry and keeps `previous`). Written atomically, sorted."""
    data = _read(path)
    commit = commit_of() if commit is None else commit
    date = datetime.date.today().isoformat() if date is None else date
    if machine is None:
        machine = f"{os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}"
    before = data.get(benchmark) or {}
    this = before.get("this")
    previous = this if this and this.get("commit") != commit else before.get("previous")
    if command is None:
        command = " ".join(["python", f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])
    data[benchmark] = {"this": _entry(figures, commit, date, machine, command), "previous": previous}
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    staged = path.with_name(f".{path.name}.tmp")
    staged.write_text(text)
    os.replace(staged, path)


def _values(entry: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {f["label"]: f for f in (entry or {}).get("figures", [])}


def side_by_side(benchmark: str, figures: list[Figure], path: Path = FIGURES, *, commit: str | None = None) -> str:
    """This run's figures beside the previous commit's on record (before this run is recorded)."""
    entry = _read(path).get(benchmark) or {}
    this_commit = commit_of() if commit is None else commit
    earlier = entry.get("this") if (entry.get("this") or {}).get("commit") != this_commit else entry.get("previous")
    before = _values(earlier)
    name = (earlier or {}).get("commit", "previous")
    rows = [("figure", "this run", name, "this / previous", "goal")]
    for figure in figures:
        old = before.get(figure.label)
        ratio = f"{figure.value / old['value']:.2f}x" if old and old["value"] else "—"
        rows.append((figure.label, shown(figure.value, figure.unit), shown(old["value"], old["unit"]) if old else "—",
                     ratio, figure.goal))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def readme_block(path: Path = FIGURES) -> str:
    """The README's table of figures: each benchmark's figures at the commit recorded, beside the previous one's."""
    lines = [BEGIN, "<!-- made by `python benchmarks/figures.py readme` from benchmarks/figures.json: do not edit -->"]
    for benchmark, entry in sorted(_read(path).items()):
        this, previous = entry.get("this") or {}, entry.get("previous")
        lines += ["", f"`{this.get('command', benchmark)}` at {this.get('commit')} ({this.get('date')}, "
                      f"{this.get('machine')})" + (f"; previous: {previous['commit']} ({previous['date']}, "
                                                   f"{previous['machine']})" if previous else ""), ""]
        earlier = _values(previous)
        lines += [f"| figure | {this.get('commit')} | {previous['commit'] if previous else 'previous'} | goal |",
                  "|---|---|---|---|"]
        for figure in this.get("figures", []):
            old = earlier.get(figure["label"])
            lines.append(f"| {figure['label']} | {shown(figure['value'], figure['unit'])} | "
                         f"{shown(old['value'], old['unit']) if old else '—'} | {figure['goal']} |")
    lines.append(END)
    return "\n".join(lines)


def with_block(readme: str, block: str) -> str:
    """The README with its figures block replaced, and nothing else changed."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"the README has no {BEGIN} ... {END} block to write the figures into")
    return readme[:start] + block + readme[end + len(END):]


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["show", "readme"])
    parser.add_argument("--check", action="store_true", help="with readme: exit 1 if the README is not current")
    parser.add_argument("--figures", type=Path, default=FIGURES)
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(arguments)
    if args.action == "show":
        for benchmark, entry in sorted(_read(args.figures).items()):
            this = entry.get("this") or {}
            figures = [Figure(f["label"], f["value"], f["unit"], f["goal"]) for f in this.get("figures", [])]
            print(f"{benchmark} at {this.get('commit')} ({this.get('date')}, {this.get('machine')})")
            earlier = entry.get("previous")
            previous = _values(earlier)
            for figure in figures:
                old = previous.get(figure.label)
                print(f"  {figure.label:<52} {shown(figure.value, figure.unit):>12} "
                      f"{shown(old['value'], old['unit']) if old else '—':>12}  {figure.goal}")
        return 0
    current = args.readme.read_text()
    wanted = with_block(current, readme_block(args.figures))
    if args.check:
        if wanted != current:
            print(f"{args.readme} is not current with {args.figures}: run `python benchmarks/figures.py readme`",
                  file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        args.readme.write_text(wanted)
    return 0


def report(benchmark: str, figures: list[Figure], keep: bool) -> None:
    """What every benchmark does last: print its figures beside the previous commit's, and record them."""
    print(f"\n{benchmark}: this run beside the figures on record")
    print(side_by_side(benchmark, figures))
    if keep:
        record(benchmark, figures)
        print(f"recorded in {FIGURES.relative_to(HERE.parent)} (`python benchmarks/figures.py readme` writes the "
              f"README's table)")


if __name__ == "__main__":
    sys.exit(main())
