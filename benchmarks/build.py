"""Benchmark: `beskar build` of the example fleet and of a generated fleet, against the floor of bare Helm renders.

For each fleet, in one run: the cold build (empty cache, -j cores), the floor (the sum of bare Helm render times of
the build's distinct renders, measured here, divided by the processes used), a second build with nothing changed,
and a build after a change to one site; each --rounds times (cold build and floor in turn), medians quoted. Goals
(issue 10): cold <= 1.3x floor, unchanged <= 5% of cold, one site changed <= 1/30 of cold. Charts come from
../shared/reference (or --chart-source NAME=PATH).
"""

import argparse, concurrent.futures, os, platform, re, shutil, statistics, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render import generate_fleet  # noqa: E402  (the generated fleet of benchmarks/render.py)
from figures import Figure, report, shown  # noqa: E402

import beskar  # noqa: E402
from beskar.clients import helm, helm_pool  # noqa: E402
from beskar.memory import keep_what_pauses_make  # noqa: E402
from beskar.operations import build, demo  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "charts"
UPSTREAM = ("ingress-nginx", "prometheus-community", "rook-release")


def cpu_seconds() -> float:
    """This process's CPU, all its threads, and its children's once waited for (the build's Helm workers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def floor(root: Path, options: build.BuildOptions, jobs: int) -> tuple[float, float, int]:
    """Sum of bare Helm render times of the distinct renders (charts already fetched), over the processes; and
    their CPU seconds (on a shared machine the wall seconds of parallel work depend on the others' load)."""
    renders = build.render_jobs(root, None, options)
    helm.quiet()
    total = 0.0
    cpu = cpu_seconds()
    for job in renders:
        start = time.perf_counter()
        helm.render(Path(job.chart_path), job.values, name=job.release_name, namespace=job.namespace,
                    capabilities=helm.Capabilities(job.kube_version, job.api_versions), include_crds=job.include_crds)
        total += time.perf_counter() - start
    return total / jobs, cpu_seconds() - cpu, len(renders)


def helm_on_the_pool(root: Path, options: build.BuildOptions, jobs: int) -> float:
    """Wall seconds of the same distinct renders on the build's pool of Helm processes, with nothing else to do:
    what the build's own work (compile, plan, reading the output, the cache) could at best come down to. On 2
    cores this is above the floor already: Go's collector then has no idle core to run on."""
    renders = build.render_jobs(root, None, options)
    start = time.perf_counter()
    with helm_pool.HelmPool(jobs) as pool, concurrent.futures.ThreadPoolExecutor(2 * jobs) as threads:
        list(threads.map(lambda job: pool.render(
            Path(job.chart_path), job.values, name=job.release_name, namespace=job.namespace,
            capabilities=helm.Capabilities(job.kube_version, job.api_versions), include_crds=job.include_crds),
            renders))
    return time.perf_counter() - start


def timed(work) -> tuple[float, float]:
    """Wall and CPU seconds of work()."""
    start, cpu = time.perf_counter(), cpu_seconds()
    work()
    return time.perf_counter() - start, cpu_seconds() - cpu


def measure(label: str, root: Path, sources: dict[str, str], jobs: int,
            rounds: int) -> tuple[list[tuple[str, float, str]], list[Figure]]:
    """`rounds` rounds of a cold build, the floor and Helm alone on the pool, one after the other, so that each
    ratio compares figures taken a few seconds apart on a machine whose speed drifts; then the nothing-changed and
    one-site builds, `rounds` of each (a different change each time). Medians throughout."""
    base = Path(tempfile.mkdtemp(prefix="beskar-bench-charts-"))
    cache = base.with_name(base.name + "-cache")
    try:
        build.fetch_charts(root, None, build.BuildOptions(chart_sources=sources, jobs=jobs, cache=base))
        options = build.BuildOptions(chart_sources=sources, jobs=jobs, cache=cache)
        colds, floors, pools = [], [], []
        for _ in range(rounds):
            shutil.rmtree(cache, ignore_errors=True)
            shutil.copytree(base, cache)  # fetching is not rendering: the floor has no fetch either
            builds: tuple = ()

            def cold_build() -> None:
                nonlocal builds
                builds = build.build_fleet(root, None, options)
            colds.append(timed(cold_build))
            failures = [f for b in builds for f in b.failures]
            if failures:
                raise SystemExit(f"{label}: {failures[0]}")
            floors.append(floor(root, options, jobs))
            pools.append(helm_on_the_pool(root, options, jobs))
        unchanged = [timed(lambda: build.build_fleet(root, None, options)) for _ in range(rounds)]
        one_site = []
        for ratio in ONE_SITE_RATIOS[:rounds]:
            change_one_site(root, ratio)
            one_site.append(timed(lambda: build.build_fleet(root, None, options)))
        median = statistics.median
        cold, cold_cpu = median(c for c, _ in colds), median(c for _, c in colds)
        bare, bare_cpu = median(f[0] for f in floors), median(f[1] for f in floors)
        cold_ratio = median(c[0] / f[0] for c, f in zip(colds, floors))
        cpu_ratio = median(c[1] / f[1] for c, f in zip(colds, floors))
        pooled, pool_ratio = median(pools), median(p / f[0] for p, f in zip(pools, floors))
        nothing, nothing_cpu = median(u for u, _ in unchanged), median(c for _, c in unchanged)
        one, one_cpu = median(o for o, _ in one_site), median(c for _, c in one_site)
        objects = sum(1 for b in builds for _ in b.objects())
        releases = sum(len(b.releases) for b in builds)
        print(f"{label}: {len(builds)} sites, {releases} releases, {floors[0][2]} distinct renders, {objects} objects; "
              f"cold / floor by round: {', '.join(f'{c[0] / f[0]:.2f}x' for c, f in zip(colds, floors))}")
        figures = [Figure(f"{label}: cold build", cold, "s"),
                   Figure(f"{label}: cold build / floor", cold_ratio, "x", "at most 1.3x"),
                   Figure(f"{label}: cold build CPU / bare Helm's CPU", cpu_ratio, "x"),
                   Figure(f"{label}: Helm alone on the build's processes / floor", pool_ratio, "x"),
                   Figure(f"{label}: nothing changed / cold", 100 * nothing / cold, "%", "at most 5%"),
                   Figure(f"{label}: one site changed, a fraction of cold", cold / one, "1/n", "at most 1/30")]
        return [(f"{label}: cold build (-j {jobs})", cold, f"{cold_ratio:.2f}x floor (goal <= 1.3)"),
                (f"{label}: floor (bare Helm / {jobs})", bare, ""),
                (f"{label}: Helm alone on {jobs} processes", pooled, f"{pool_ratio:.2f}x floor (the build's best)"),
                (f"{label}: cold build, CPU seconds", cold_cpu, f"{cpu_ratio:.2f}x bare Helm's CPU"),
                (f"{label}: bare Helm renders, CPU seconds", bare_cpu, ""),
                (f"{label}: nothing changed", nothing, f"{nothing / cold:.1%} of cold (goal <= 5%)"),
                (f"{label}: nothing changed, CPU seconds", nothing_cpu, f"{nothing_cpu / cold_cpu:.1%} of cold's CPU"),
                (f"{label}: one site changed", one, f"{shown(cold / one, '1/n')} of cold (goal <= 1/30)"),
                (f"{label}: one site changed, CPU seconds", one_cpu,
                 f"{shown(cold_cpu / one_cpu, '1/n')} of cold's CPU")], \
            figures
    finally:
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)


ONE_SITE_RATIOS = ("2.5", "2.25", "2.75", "1.5", "3.5")  # each a value no build before has rendered


def change_one_site(root: Path, ratio: str) -> None:
    """The first site's first flavor family gets another CPU allocation ratio: its nova renders anew."""
    site = sorted((root / "sites").glob("*/site.yaml"))[0]
    text, count = re.subn(r"cpu_allocation_ratio: [0-9.]+", f"cpu_allocation_ratio: {ratio}", site.read_text(), 1)
    if not count:
        raise SystemExit(f"{site}: no cpu_allocation_ratio to change")
    site.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=50, help="sites of the generated fleet (default 50; 0 skips it)")
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=3, choices=range(1, len(ONE_SITE_RATIOS) + 1),
                        metavar="N", help="rounds of each figure, medians quoted (default 3, at most 5)")
    parser.add_argument("--chart-source", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--no-record", action="store_true", help="do not record the figures in benchmarks/figures.json")
    args = parser.parse_args()
    keep_what_pauses_make()  # as the `beskar` command does: a process of one job
    sources = {"openstack-helm": str(REFERENCE / "openstack-helm.bundle"),
               **{name: str(REFERENCE / "helm-repository") for name in UPSTREAM}}
    sources.update(dict(item.split("=", 1) for item in args.chart_source))
    if not Path(sources["openstack-helm"]).exists():
        print(f"needs the reference charts in {REFERENCE} or --chart-source for every source", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="beskar-bench-build-"))
    rows, figures = [], []
    try:
        demo.write_demo(work / "example")
        measured = [measure("example fleet", work / "example", sources, args.jobs, args.rounds)]
        if args.sites:
            generate_fleet(work / "generated", args.sites)
            measured.append(measure(f"generated {args.sites} sites", work / "generated", sources, args.jobs,
                                    args.rounds))
        for more_rows, more_figures in measured:
            rows += more_rows
            figures += more_figures
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"beskar {beskar.__version__} build benchmark   cpus {os.cpu_count()}   python {platform.python_version()}"
          f"   load average {os.getloadavg()[0]:.1f}")
    print(f"{'figure':<48}{'seconds':>10}  ratio")
    for label, seconds, ratio in rows:
        print(f"{label:<48}{seconds:>10.2f}  {ratio}")
    report("build", figures, keep=not args.no_record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
