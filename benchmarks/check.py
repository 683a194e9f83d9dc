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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from render import COMPUTE, CONTROL, STORAGE, generate_fleet  # noqa: E402  (the generator of render.py)

import beskar  # noqa: E402
from beskar.operations import review  # noqa: E402
from beskar.check import schemas  # noqa: E402
from beskar.operations.compilation import render_fleet  # noqa: E402

REPEATS = 3
# `beskar check` of the fleet at argv[1] in process, the best of 2 (the first warms the catalog and schema
# caches, as in the figures above); run with either checkout's src/ first on the path.
_TIMED_CHECK = ("import sys, time; from pathlib import Path; from beskar.operations import review; times = []\n"
                "for _ in range(2):\n"
                "    start = time.perf_counter(); review.check(Path(sys.argv[1])); times.append(time.perf_counter() - start)\n"
                "print(min(times))")


def best_of(action, repeats: int = REPEATS):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return min(times), result


def timed_check(source: Path, root: Path) -> float:
    """Seconds of one in-process check by the code under `source` (a src/ directory), in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    done = subprocess.run([sys.executable, "-c", _TIMED_CHECK, str(root)], env=env, capture_output=True, text=True,
                          check=True)
    return float(done.stdout.split()[-1])


def compare(against: Path, root: Path, rounds: int) -> tuple[float, float]:
    """Median seconds of this checkout's and `against`'s check of the same fleet, alternating run by run."""
    here = Path(beskar.__file__).resolve().parent.parent
    ours, theirs = [], []
    for _ in range(rounds):
        theirs.append(timed_check(against / "src", root))
        ours.append(timed_check(here, root))
    return statistics.median(ours), statistics.median(theirs)


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
    args = parser.parse_args()
    try:
        import kubernetes_validate
    except ImportError:
        print("kubernetes-validate is not installed: pip install kubernetes-validate", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="beskar-check-bench-"))
    root = work / "fleet"
    try:
        generate_fleet(root, args.sites)
        render_fleet(root)
        if args.against is not None:
            ours, theirs = compare(args.against.resolve(), root, args.rounds)
            print(f"beskar check, in process, median of {args.rounds} alternating runs, {args.sites} sites: "
                  f"this checkout {ours:.3f} s, {args.against} {theirs:.3f} s: {theirs / ours:.2f}x")

        start = time.perf_counter()
        command = subprocess.run([sys.executable, "-m", "beskar", "check", "-C", str(root), "--format", "json"],
                                 capture_output=True, text=True)
        cli = time.perf_counter() - start
        if command.returncode != 0:
            print(f"beskar check failed ({command.returncode}):\n{command.stdout[:2000]}{command.stderr}",
                  file=sys.stderr)
            return 1
        check_time, result = best_of(lambda: review.check(root))
        lint_time, _ = best_of(lambda: review.lint(root))

        documents = applied_objects(root)
        builtin = [d for d in documents if f"{d['apiVersion']} {d['kind']}" in schemas.builtins()["kinds"]]
        flux = [d for d in documents if (d["apiVersion"], d["kind"]) in schemas.crd_versions()]
        version = schemas.kubernetes_version()
        for cache in (schemas._fast, schemas._schema, schemas._metadata_schema):
            cache.cache_clear()  # cold: compiling the validators counts
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
        print(f"beskar {beskar.__version__} check benchmark: {args.sites} sites x ({CONTROL} control-plane + "
              f"{COMPUTE} compute + {STORAGE} storage nodes)")
        print(f"cpus {os.cpu_count()}   python {platform.python_version()}   objects checked {result.objects}   "
              f"YAML files {result.files}   rules {len(result.rules)}   findings {len(result.findings)}")
        print(f"{'figure':<64}{'seconds':>9}{'objects/s':>12}")
        print(f"{'beskar check, whole command (CLI process, once)':<64}{cli:>9.3f}{result.objects / cli:>12,.0f}")
        print(f"{'beskar check, in process (best of 3)':<64}{check_time:>9.3f}{result.objects / check_time:>12,.0f}")
        print(f"{'beskar lint of the rendered fleet (best of 3)':<64}{lint_time:>9.3f}{result.objects / lint_time:>12,.0f}")
        print(f"{'schema, Flux objects: beskar (' + str(len(flux)) + ', warm)':<64}{flux_time:>9.4f}"
              f"{len(flux) / flux_time:>12,.0f}")
        print(f"{'schema, built-in objects: beskar (' + str(n) + ', cold: compiling counts)':<64}{beskar_cold:>9.4f}"
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
