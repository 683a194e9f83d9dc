"""Benchmark: `beskar diff` of a generated fleet against the cost of building what changed.

Two figures, each with its same-run reference (goals of issue 11):
  1. a one-line change in one site's site.yaml, diffed against the previous commit with a warm cache,
     against building that one site once (cold): goal <= 3x;
  2. a change in beskar.yaml that reaches every site, diffed with a cold cache, against a cold build of both
     revisions' changed sites: goal <= 1.2x.
Charts come from the reference sources (../shared/reference or $BESKAR_REFERENCE): openstack-helm cloned from its
bundle, the other charts from the Helm repository folder. `--release` narrows every build and diff to some
HelmReleases, for a machine where building the whole fleet takes too long.
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
from beskar.clients import git  # noqa: E402
from beskar.operations import build, diff  # noqa: E402

REFERENCE = Path(os.environ.get("BESKAR_REFERENCE") or Path(__file__).resolve().parents[2] / "shared" / "reference")
HELM_SOURCES = ("ingress-nginx", "prometheus-community", "rook-release")  # the example fleet's HelmRepositories
REPEATS = 3
GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]


def commit(root: Path, message: str) -> None:
    subprocess.run([*GIT, "add", "-A"], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", message], cwd=root, check=True)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) >= 1, f"{path} has no {old!r}"
    path.write_text(text.replace(old, new, 1))


def seconds(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=50, help="number of generated sites (default 50)")
    parser.add_argument("--release", action="append", default=[], help="only this HelmRelease (repeatable)")
    parser.add_argument("--jobs", type=int, default=None, help="renders at once (default: the cores)")
    parser.add_argument("--part", type=int, choices=(1, 2), action="append",
                        help="only figure 1 (one site) or 2 (every site); default both")
    args = parser.parse_args()
    bundle = REFERENCE / "charts" / "openstack-helm.bundle"
    repository = REFERENCE / "charts" / "helm-repository"
    if not bundle.is_file() or not (repository / "index.yaml").is_file():
        print(f"needs the reference charts in {REFERENCE / 'charts'} (../shared, or set BESKAR_REFERENCE)",
              file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="beskar-bench-diff-"))
    try:
        clone = work / "openstack-helm"
        subprocess.run(["git", "clone", "--quiet", str(bundle), str(clone)], check=True)
        sources = {"openstack-helm": str(clone), **{name: str(repository) for name in HELM_SOURCES}}
        releases = frozenset(args.release) or None
        root = work / "fleet"
        generate_fleet(root, args.sites)
        subprocess.run([*GIT, "init", "-q", "-b", "main"], cwd=root, check=True)
        commit(root, "generated fleet")
        site = "bench-0001"
        caches = iter(work / f"cache-{n}" for n in range(100))

        def build_options(cache: Path) -> build.BuildOptions:
            return build.BuildOptions(chart_sources=sources, releases=releases, jobs=args.jobs, cache=cache)

        def diff_options(cache: Path) -> diff.DiffOptions:
            return diff.DiffOptions(releases=releases or frozenset(), chart_sources=sources, jobs=args.jobs,
                                    cache=cache)

        parts = set(args.part or (1, 2))
        rows = []
        ratios = []
        if 1 in parts:
            # 1. one site's one-line change, warm cache, against building that site once (cold)
            one_site_build = seconds(lambda: build.build_fleet(root, [site], build_options(next(caches))))
            edit(root / "sites" / site / "site.yaml", "cpu_allocation_ratio: 3.0", "cpu_allocation_ratio: 2.5")
            commit(root, f"{site}: nova overcommits less")
            warm = next(caches)
            first = diff.diff(root, "HEAD~1", "HEAD", diff_options(warm))  # fills the cache
            changed = [s.site for s in first.sites if s.status.value != "unchanged"]
            assert changed == [site], changed
            warm_diffs = [seconds(lambda: diff.diff(root, "HEAD~1", "HEAD", diff_options(warm)))
                          for _ in range(REPEATS)]
            rows += [(f"build {site} once, cold cache (reference 1)", one_site_build),
                     (f"diff HEAD~1 HEAD: one line of {site}/site.yaml, warm cache", statistics.median(warm_diffs))]
            ratios.append(f"ratio 1: warm one-site diff / one-site build   "
                          f"{statistics.median(warm_diffs) / one_site_build:6.2f}x   (goal <= 3)")
        if 2 in parts:
            # 2. beskar.yaml reaching every site, cold cache, against a cold build of both revisions' changed sites
            edit(root / "beskar.yaml", "cpu_allocation_ratio: 2.0", "cpu_allocation_ratio: 2.5")  # the c2 family
            commit(root, "c2 overcommits more, everywhere")
            names = sorted(p.name for p in (root / "sites").iterdir())
            both = next(caches)
            with git.worktree(root, subprocess.run(["git", "rev-parse", "HEAD~1"], cwd=root, capture_output=True,
                                                   text=True, check=True).stdout.strip()) as base:
                cold_builds = seconds(lambda: build.build_fleet(base, names, build_options(both)))
            cold_builds += seconds(lambda: build.build_fleet(root, names, build_options(both)))
            fleet_diff = seconds(lambda: diff.diff(root, "HEAD~1", "HEAD", diff_options(next(caches))))
            rows += [("cold build of both revisions' changed sites (reference 2)", cold_builds),
                     ("diff HEAD~1 HEAD: beskar.yaml reaching every site, cold cache", fleet_diff)]
            ratios.append(f"ratio 2: fleet-wide diff / both cold builds     {fleet_diff / cold_builds:6.2f}x   "
                          "(goal <= 1.2)")

        scope = f"releases {', '.join(sorted(releases))}" if releases else "every release"
        print(f"beskar {beskar.__version__} diff benchmark: {args.sites} sites x ({CONTROL} control-plane + "
              f"{COMPUTE} compute + {STORAGE} storage nodes), {scope}")
        print(f"cpus {os.cpu_count()}   python {platform.python_version()}   median of {REPEATS} where repeated"
              f"   load average {os.getloadavg()[0]:.1f}")
        print(f"{'figure':<64}{'seconds':>10}")
        for label, value in rows:
            print(f"{label:<64}{value:>10.2f}")
        for line in ratios:
            print(line)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
