"""Benchmark: `beskar check` on a generated fleet of N sites, and schema validation against kubernetes-validate.

The fleet comes from benchmarks/render.py's generator. The same built-in objects the check validates are
then validated with kubernetes-validate (PyPI, strict, the same Kubernetes version) in the same run.
With --against DIR (a checkout of another commit, e.g. `git worktree add /tmp/before HEAD~1`), the same
fleet is also checked by that checkout's code, alternating with this one, and the medians are compared.
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from render import COMPUTE, CONTROL, STORAGE, child_env, generate_fleet  # noqa: E402  (of render.py)
from figures import Figure, commit_of, report  # noqa: E402

import beskar  # noqa: E402
from beskar.operations import review  # noqa: E402
from beskar.check import schemas  # noqa: E402

REPEATS = 3
# `beskar check` of the fleet at argv[1] in process, the best of 2 (the first warms the catalog and schema
# caches, as in the figures above); run with either checkout's src/ first on the path. Prints wall and CPU seconds.
# CPU counts the workers the check starts (resource.RUSAGE_CHILDREN), so that using both cores is not free.
_TIMED_CHECK = ("import resource, sys, time; from pathlib import Path; from beskar.operations import review\n"
                "def cpu():\n"
                "    usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
                "    return time.process_time() + usage.ru_utime + usage.ru_stime\n"
                "times = []\n"
                "for _ in range(2):\n"
                "    start, used = time.perf_counter(), cpu(); review.check(Path(sys.argv[1]))\n"
                "    times.append((time.perf_counter() - start, cpu() - used))\n"
                "print(*min(times))")


@dataclass(frozen=True)
class Run:
    """One whole process: wall and CPU seconds (user + system, from its rusage) and its peak resident MiB."""

    wall: float
    cpu: float
    peak_mib: float


def run_process(command: list[str], env: dict[str, str] | None = None) -> tuple[Run, str]:
    """Run a child to its end and read its own rusage (os.wait4), not the total of every child this process had.
    Its peak RSS is the largest of the child and its workers, and never below this process's own RSS when the
    child was started (Linux carries the high-water mark across fork and exec): see own_peak_mib()."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0), err.seek(0)
        text = out.read()
        if child.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:4])} failed ({child.returncode}):\n{text[:2000]}{err.read()[-3000:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024), text


def own_peak_mib() -> float:
    """This process's peak RSS (VmHWM), below which no child's peak can be reported."""
    with open("/proc/self/status") as status:
        line = next((line for line in status if line.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1]) / 1024


def best_of(action, repeats: int = REPEATS):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return min(times), result


def timed_check(source: Path, root: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one in-process check by the code under `source` (a src/ directory), in a fresh
    process."""
    env = child_env(source)
    done = subprocess.run([sys.executable, "-c", _TIMED_CHECK, str(root)], env=env, capture_output=True, text=True,
                          check=True)
    wall, cpu = done.stdout.split()[-2:]
    return float(wall), float(cpu)


def compare(against: Path, root: Path, rounds: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) seconds of this checkout's and `against`'s check of the same fleet, alternating."""
    here = Path(beskar.__file__).resolve().parent.parent
    ours, theirs = [], []
    for _ in range(rounds):
        theirs.append(timed_check(against / "src", root))
        ours.append(timed_check(here, root))
    return {side: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
            for side, runs in (("ours", ours), ("theirs", theirs))}


def check_against_render(root: Path, rounds: int) -> tuple[list[Run], list[Run], list[Run]]:
    """Whole `beskar check` and `beskar render` processes of the same fleet, alternating; each render is fresh
    (the rendered tree removed first, as on a new clone), and leaves the same tree for the next check. Each round
    checks twice: after the render (its record tells which sites' files need not be emitted again), and without
    the record, as in a fresh clone of the fleet (.beskar/ is never committed), where every site is emitted."""
    checks, unrecorded, renders = [], [], []
    env = child_env(Path(beskar.__file__).resolve().parent.parent)
    check = [sys.executable, "-m", "beskar", "check", "-C", str(root), "--format", "json"]
    for _ in range(rounds):
        for top in ("clusters", "apps", "inventory"):
            shutil.rmtree(root / top, ignore_errors=True)
        renders.append(run_process([sys.executable, "-m", "beskar", "render", "-C", str(root)], env)[0])
        checks.append(run_process(check, env)[0])
        (root / ".beskar" / "render.json").unlink()
        unrecorded.append(run_process(check, env)[0])
    return checks, unrecorded, renders


def _median(runs: list[Run], field: str) -> float:
    return statistics.median(getattr(r, field) for r in runs)


def applied_objects(root: Path) -> list[dict]:
    """Every object the check validates (what the clusters apply), as data."""
    from beskar.check.repository import load_repository
    from beskar.fleet.files import read_files

    contents, others = read_files(root)
    repository = load_repository(contents, others)
    # As the schema rule does: Flux decrypts SOPS files before applying them, which drops their `sops` block.
    return [{k: v for k, v in r.data.items() if k != "sops"}
            for c in repository.clusters.values() for r in c.resources if r.generator is None]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=50, help="number of generated sites (default 50)")
    parser.add_argument("--against", type=Path, help="a checkout of another commit to compare the check with")
    parser.add_argument("--rounds", type=int, default=5, help="alternating runs per side with --against (default 5)")
    parser.add_argument("--process-rounds", type=int, default=3,
                        help="alternating whole `beskar check` and `beskar render` processes (default 3)")
    parser.add_argument("--no-schemas", action="store_true", help="leave out the kubernetes-validate comparison")
    parser.add_argument("--fleet", type=Path, help="a fleet generated (and rendered) by an earlier run, e.g. of 200 "
                        "sites, to check instead of generating one; it is rendered again in place")
    parser.add_argument("--no-record", action="store_true", help="do not record the figures in benchmarks/figures.json")
    args = parser.parse_args()
    try:
        import kubernetes_validate
    except ImportError:
        print("kubernetes-validate is not installed: pip install kubernetes-validate", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="beskar-check-bench-"))
    root = work / "fleet" if args.fleet is None else args.fleet.resolve()
    try:
        if args.fleet is None:
            generate_fleet(root, args.sites)
        # In a child, not in this process: a child's peak RSS counts this process's as it was when the child was
        # started (Linux carries the high-water mark across fork and exec), so this process stays small.
        run_process([sys.executable, "-m", "beskar", "render", "-C", str(root)],
                    child_env(Path(beskar.__file__).resolve().parent.parent))
        args.sites = len(list((root / "sites").glob("*/site.yaml")))
        print(f"beskar {beskar.__version__} check benchmark: {args.sites} sites x ({CONTROL} control-plane + "
              f"{COMPUTE} compute + {STORAGE} storage nodes); cpus {os.cpu_count()}, python "
              f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f} at start", flush=True)
        figures: list[Figure] = []
        if args.against is not None:
            medians = compare(args.against.resolve(), root, args.rounds)
            (wall, cpu), (their_wall, their_cpu) = medians["ours"], medians["theirs"]
            against = commit_of(args.against)
            figures += [Figure(f"{args.sites} sites: check in process, {against}", their_wall, "s"),
                        Figure(f"{args.sites} sites: check in process", wall, "s"),
                        Figure(f"{args.sites} sites: speed-up over {against}, wall", their_wall / wall, "x",
                               "at least 2x over daf90c9" if against == "daf90c9" else "")]
            print(f"beskar check in process, median of {args.rounds} alternating fresh processes (best of 2 in each):"
                  f"\n  {args.against}: {their_wall:.2f} s wall, {their_cpu:.2f} s CPU"
                  f"\n  this checkout: {wall:.2f} s wall, {cpu:.2f} s CPU"
                  f"\n  speed-up {their_wall / wall:.2f}x wall, {their_cpu / cpu:.2f}x CPU", flush=True)

        checks, unrecorded, renders = check_against_render(root, args.process_rounds)
        fresh_clone_wall, fresh_clone_cpu = _median(unrecorded, "wall"), _median(unrecorded, "cpu")
        check_wall, render_wall = _median(checks, "wall"), _median(renders, "wall")
        check_cpu, render_cpu = _median(checks, "cpu"), _median(renders, "cpu")
        print(f"whole processes, median of {args.process_rounds} alternating (load average "
              f"{os.getloadavg()[0]:.1f} at the end):")
        print(f"{'':<40}{'wall s':>9}{'CPU s':>9}{'peak MiB':>10}")
        print(f"{'beskar render (fresh tree)':<40}{render_wall:>9.2f}{render_cpu:>9.2f}"
              f"{max(r.peak_mib for r in renders):>10.0f}")
        print(f"{'beskar check':<40}{check_wall:>9.2f}{check_cpu:>9.2f}{max(r.peak_mib for r in checks):>10.0f}")
        print(f"{'beskar check, no render record':<40}{fresh_clone_wall:>9.2f}{fresh_clone_cpu:>9.2f}"
              f"{max(r.peak_mib for r in unrecorded):>10.0f}")
        print(f"check / render: {check_wall / render_wall:.2f}x wall, {check_cpu / render_cpu:.2f}x CPU "
              f"(goal 1.2x); check peak RSS {max(r.peak_mib for r in checks):.0f} MiB "
              f"({max(r.peak_mib for r in checks) / args.sites:.2f} MiB per site; the benchmark's own peak, a floor "
              f"under every child's: {own_peak_mib():.0f} MiB)", flush=True)
        figures += [Figure(f"{args.sites} sites: beskar check, whole process", check_wall, "s",
                           "at most 5 s for 100 sites" if args.sites == 100 else ""),
                    Figure(f"{args.sites} sites: beskar check without a render record (a fresh clone)",
                           fresh_clone_wall, "s", "at most 5 s for 100 sites" if args.sites == 100 else ""),
                    Figure(f"{args.sites} sites: beskar render (fresh), whole process", render_wall, "s"),
                    Figure(f"{args.sites} sites: check / render, wall", check_wall / render_wall, "x", "at most 1.2x"),
                    Figure(f"{args.sites} sites: check, peak RSS", max(r.peak_mib for r in checks), "MiB",
                           "under 500 MiB for 200 sites" if args.sites == 200 else "")]
        report(f"check-{args.sites}", figures, keep=not args.no_record)
        if args.no_schemas:
            return 0

        check_time, result = best_of(lambda: review.check(root))
        lint_time, _ = best_of(lambda: review.lint(root))

        documents = applied_objects(root)
        builtin = [d for d in documents if f"{d['apiVersion']} {d['kind']}" in schemas.builtins()["kinds"]]
        flux = [d for d in documents if (d["apiVersion"], d["kind"]) in schemas.crd_versions()]
        version = schemas.kubernetes_version()
        for cache in (schemas._fast, schemas._schema, schemas._metadata_schema):
            cache.cache_clear()  # cold: loading the validators (from the cache on disk) counts
        start = time.perf_counter()
        assert all(schemas.schema_errors(d) == [] for d in builtin)
        beskar_cold = time.perf_counter() - start
        beskar_warm, _ = best_of(lambda: [schemas.schema_errors(d) for d in builtin])
        flux_time, _ = best_of(lambda: [schemas.schema_errors(d) for d in flux])
        start = time.perf_counter()
        for document in builtin:
            kubernetes_validate.validate(document, version, strict=True)
        peer = time.perf_counter() - start

        n = len(builtin)
        print(f"objects checked {result.objects}   YAML files {result.files}   rules {len(result.rules)}   "
              f"findings {len(result.findings)}")
        print(f"{'figure':<64}{'seconds':>9}{'objects/s':>12}")
        print(f"{'beskar check, whole command (CLI process, median)':<64}{check_wall:>9.3f}"
              f"{result.objects / check_wall:>12,.0f}")
        print(f"{'beskar check, in process (best of 3)':<64}{check_time:>9.3f}{result.objects / check_time:>12,.0f}")
        print(f"{'beskar lint of the rendered fleet (best of 3)':<64}{lint_time:>9.3f}{result.objects / lint_time:>12,.0f}")
        print(f"{'schema, Flux objects: beskar (' + str(len(flux)) + ', warm)':<64}{flux_time:>9.4f}"
              f"{len(flux) / flux_time:>12,.0f}")
        print(f"{'schema, built-in objects: beskar (' + str(n) + ', cold: validators from the disk cache)':<64}{beskar_cold:>9.4f}"
              f"{n / beskar_cold:>12,.0f}")
        print(f"{'schema, built-in objects: beskar (' + str(n) + ', warm)':<64}{beskar_warm:>9.4f}"
              f"{n / beskar_warm:>12,.0f}")
        print(f"{'schema, built-in objects: kubernetes-validate ' + kubernetes_validate.__version__:<64}{peer:>9.4f}"
              f"{n / peer:>12,.0f}")
        print(f"per built-in object: beskar {beskar_cold / n * 1e6:,.0f} us cold, {beskar_warm / n * 1e6:,.1f} us warm; "
              f"kubernetes-validate {peer / n * 1e6:,.0f} us; speed-up {peer / beskar_cold:,.1f}x cold, "
              f"{peer / beskar_warm:,.0f}x warm (Kubernetes {version}, strict)")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
