"""Benchmark: `beskar lint` of every repository in the corpora (tests/check_cases lint cases, the rendered
example fleet, ../shared/reference/flux-repos/*), as a user runs it (`python -m beskar lint`, a fresh
process) and in-process; and, in the same run, `kubectl kustomize` of the same directories, for a ratio.

The standard (issue 13): every corpus repository lints in under 2 s. Prints medians of REPEATS runs: wall
time, and the CPU time of the `beskar lint` process (user + system), which a loaded machine does not inflate.
`--only SUBSTRING` limits the run to the repositories whose name contains it.
"""

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
from beskar.operations import compilation, review  # noqa: E402
from test_check_corpus import CASES, load_case, materialize  # noqa: E402

REPEATS = 3
REFERENCE = Path(os.environ.get("BESKAR_REFERENCE") or HERE.parents[1] / "shared" / "reference") / "flux-repos"


def median(action, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def process_cpu(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one run of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="only repositories whose name contains this")
    only = parser.parse_args().only
    env = {**os.environ, "NO_COLOR": "1"}
    with tempfile.TemporaryDirectory() as scratch:
        found = {n: r for n, r in repositories(Path(scratch)).items() if only in n}
        width = max(map(len, found))
        print(f"{'repository':{width}}  lint wall  lint CPU  in-process  dirs  kubectl kustomize  ratio", flush=True)
        slowest = ("", 0.0)
        for name, root in found.items():
            runs = [process_cpu([sys.executable, "-m", "beskar", "lint", str(root)], env) for _ in range(REPEATS)]
            wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
            inside = median(lambda: review.lint(root))
            contents, others = read_files(root)
            directories = built_directories(load_repository(contents, others))
            real = median(lambda: kustomize.build_all(root, directories), repeats=1) if directories else 0.0
            ratio = f"{real / inside:6.1f}x" if real else "     -"
            print(f"{name:{width}}  {wall:7.2f} s  {cpu:6.2f} s  {inside:8.3f} s  {len(directories):4d}  "
                  f"{real:15.3f} s  {ratio}", flush=True)
            slowest = max(slowest, (name, cpu), key=lambda pair: pair[1])
    print(f"most CPU for one `beskar lint`: {slowest[0]} {slowest[1]:.2f} s (standard: under 2 s) -> "
          f"{'holds' if slowest[1] < 2 else 'FAILS'}")


if __name__ == "__main__":
    main()
