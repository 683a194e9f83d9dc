"""Benchmark: `beskar lint` of every repository in the corpora (tests/check_cases lint cases, the rendered
example fleet, ../shared/reference/flux-repos/*), as a user runs it: a whole `python -m beskar lint` process.

The standard (issue 13): every corpus repository lints in under 2 s. For each repository it prints the medians of
--rounds runs of the process's CPU time (user + system, which a loaded machine inflates less than wall time) and
wall time, and their ratios to the floor measured in the same rounds, alternated run by run: a bare
`python -c pass` (the interpreter) and `beskar --help` (the command line's own start-up). Then the in-process
time of a warm `review.lint` (caches filled: the lint's own work without start-up).

--against DIR (a checkout of another commit, e.g. `git worktree add /tmp/before main`) runs the same lint from
that checkout's src/ as well, alternated with this one's. --only SUBSTRING limits the run to the repositories
whose name contains it. --bytecode lets Python cache bytecode (in a temporary PYTHONPYCACHEPREFIX), as an
installed package has it; by default the environment decides (PYTHONDONTWRITEBYTECODE=1 compiles every module
of src/ in every process). --kustomize adds `kubectl kustomize` of the same directories, for a peer figure.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from beskar.check.repository import built_directories, load_repository  # noqa: E402
from beskar.clients import kustomize  # noqa: E402
from beskar.fleet.examples import write_example  # noqa: E402
from beskar.fleet.files import read_files  # noqa: E402
from beskar.operations import compilation  # noqa: E402
from beskar.operations.lint import lint  # noqa: E402
from test_check_corpus import CASES, load_case, materialize  # noqa: E402

STANDARD = 2.0  # seconds, issue 13
REFERENCE = Path(os.environ.get("BESKAR_REFERENCE") or HERE.parents[1] / "shared" / "reference") / "flux-repos"
FLOORS = {"python -c pass": ["-c", "pass"], "beskar --help": ["-m", "beskar", "--help"]}


def timed(arguments: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *arguments], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def repositories(scratch: Path) -> dict[str, Path]:
    found = {}
    for name in CASES:
        case = load_case(name)
        if case.get("command", "lint") == "lint":
            found[name] = materialize(name, case, scratch / name.replace("/", "_"))
    fleet = scratch / "example-fleet"
    write_example(fleet)
    compilation.render_fleet(fleet)
    found["example fleet (rendered)"] = fleet
    for repository in sorted(REFERENCE.glob("*")) if REFERENCE.is_dir() else []:
        if repository.is_dir():
            found[f"flux-repos/{repository.name}"] = repository
    return found


def warm(root: Path, repeats: int = 3) -> float:
    lint(root)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        lint(root)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def medians(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="only repositories whose name contains this")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--against", type=Path, help="another checkout, e.g. of main, run alternated with this")
    parser.add_argument("--bytecode", action="store_true", help="cache bytecode, as an installed package has")
    parser.add_argument("--kustomize", action="store_true", help="also time kubectl kustomize of the same dirs")
    args = parser.parse_args()
    sources = {"this": HERE.parent / "src"}
    if args.against:
        sources["against"] = args.against.resolve() / "src"
    with tempfile.TemporaryDirectory() as scratch:
        env = {k: v for k, v in os.environ.items() if not (args.bytecode and k == "PYTHONDONTWRITEBYTECODE")}
        env.update(NO_COLOR="1", COLUMNS="120")
        if args.bytecode:
            env["PYTHONPYCACHEPREFIX"] = str(Path(scratch) / "pycache")
        envs = {label: {**env, "PYTHONPATH": str(source)} for label, source in sources.items()}
        found = {n: r for n, r in repositories(Path(scratch) / "corpus").items() if args.only in n}
        commands = {("floor", name): arguments for name, arguments in FLOORS.items()}
        for label in sources:
            commands.update({(label, name): ["-m", "beskar", "lint", str(root)] for name, root in found.items()})
        for (label, _), arguments in commands.items():  # one warm-up each (bytecode, file system caches)
            timed(arguments, envs.get(label, envs["this"]))
        print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}; bytecode "
              f"{'cached' if args.bytecode else 'as the environment has it'}"
              f"{' (PYTHONDONTWRITEBYTECODE=1: compiled in every process)' if env.get('PYTHONDONTWRITEBYTECODE') else ''}"
              f"; medians of {args.rounds} rounds, every command once per round", flush=True)
        runs: dict[tuple[str, str], list[tuple[float, float]]] = {key: [] for key in commands}
        for _ in range(args.rounds):
            for (label, name), arguments in commands.items():
                runs[(label, name)].append(timed(arguments, envs.get(label, envs["this"])))
        floor_cpu, floor_wall = medians(runs[("floor", "python -c pass")])
        cli_cpu, cli_wall = medians(runs[("floor", "beskar --help")])
        print(f"floor: python -c pass {floor_cpu:.3f} s CPU, {floor_wall:.3f} s wall; beskar --help {cli_cpu:.3f} s "
              f"CPU ({cli_cpu / floor_cpu:.1f}x), {cli_wall:.3f} s wall")
        width = max(map(len, found))
        header = f"{'repository':{width}}  {'CPU':>7} {'/floor':>6} {'/help':>5}  {'wall':>7} {'/floor':>6}"
        if args.against:
            header += f"  {'against CPU':>11} {'new/old':>7}"
        print(header + f"  {'warm in-process':>15}" + ("  dirs  kubectl kustomize" if args.kustomize else ""))
        slowest = ("", 0.0, 0.0)
        for name, root in found.items():
            cpu, wall = medians(runs[("this", name)])
            line = (f"{name:{width}}  {cpu:5.3f} s {cpu / floor_cpu:5.1f}x {cpu / cli_cpu:4.1f}x  {wall:5.3f} s "
                    f"{wall / floor_wall:5.1f}x")
            if args.against:
                old, _ = medians(runs[("against", name)])
                line += f"  {old:9.3f} s {cpu / old:6.2f}x"
            line += f"  {warm(root):13.3f} s"
            if args.kustomize:
                contents, others = read_files(root)
                directories = built_directories(load_repository(contents, others))
                start = time.perf_counter()
                if directories:
                    kustomize.build_all(root, directories)
                line += f"  {len(directories):4d}  {time.perf_counter() - start:15.3f} s"
            print(line, flush=True)
            slowest = max(slowest, (name, cpu, wall), key=lambda row: row[1])
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"most CPU for one `beskar lint`: {slowest[0]} {slowest[1]:.3f} s (wall {slowest[2]:.3f} s; standard: under "
          f"{STANDARD:.0f} s) -> {'holds' if slowest[1] < STANDARD else 'FAILS'}")


if __name__ == "__main__":
    main()
