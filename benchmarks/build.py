"""Benchmark: `beskar build` of the example fleet and of a generated fleet, against the floor of bare Helm renders.

For each fleet, in one run: the cold build (empty cache, -j cores), the floor (the sum of bare Helm render times of
the build's distinct renders, measured here, divided by the processes used), a second build with nothing changed,
and a build after a change to one site. Goals (issue 10): cold <= 1.3x floor, unchanged <= 5% of cold, one site
changed <= 1/30 of cold. Charts come from ../shared/reference (or --chart-source NAME=PATH).
"""

import argparse, concurrent.futures, os, platform, shutil, statistics, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render import generate_fleet  # noqa: E402  (the generated fleet of benchmarks/render.py)
from figures import Figure, report  # noqa: E402

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


def measure(label: str, root: Path, sources: dict[str, str], jobs: int,
            change) -> tuple[list[tuple[str, float, str]], list[Figure]]:
    cache = Path(tempfile.mkdtemp(prefix="beskar-bench-cache-"))
    try:
        options = build.BuildOptions(chart_sources=sources, jobs=jobs, cache=cache)
        build.fetch_charts(root, None, options)  # fetching is not rendering: the floor has no fetch either
        start, cpu = time.perf_counter(), cpu_seconds()
        builds = build.build_fleet(root, None, options)
        cold, cold_cpu = time.perf_counter() - start, cpu_seconds() - cpu
        failures = [f for b in builds for f in b.failures]
        if failures:
            raise SystemExit(f"{label}: {failures[0]}")
        bare, bare_cpu, distinct = floor(root, options, jobs)
        pooled = helm_on_the_pool(root, options, jobs)
        unchanged, unchanged_cpu = [], []
        for _ in range(3):
            start, cpu = time.perf_counter(), cpu_seconds()
            build.build_fleet(root, None, options)
            unchanged.append(time.perf_counter() - start)
            unchanged_cpu.append(cpu_seconds() - cpu)
        change(root)
        start, cpu = time.perf_counter(), cpu_seconds()
        build.build_fleet(root, None, options)
        one_site, one_site_cpu = time.perf_counter() - start, cpu_seconds() - cpu
        objects = sum(1 for b in builds for _ in b.objects())
        releases = sum(len(b.releases) for b in builds)
        print(f"{label}: {len(builds)} sites, {releases} releases, {distinct} distinct renders, {objects} objects")
        median = statistics.median(unchanged)
        figures = [Figure(f"{label}: cold build", cold, "s"),
                   Figure(f"{label}: cold build / floor", cold / bare, "x", "at most 1.3x"),
                   Figure(f"{label}: cold build CPU / bare Helm's CPU", cold_cpu / bare_cpu, "x"),
                   Figure(f"{label}: Helm alone on the build's processes / floor", pooled / bare, "x"),
                   Figure(f"{label}: nothing changed / cold", 100 * median / cold, "%", "at most 5%"),
                   Figure(f"{label}: one site changed, a fraction of cold", cold / one_site, "1/n", "at most 1/30")]
        return [(f"{label}: cold build (-j {jobs})", cold, f"{cold / bare:.2f}x floor (goal <= 1.3)"),
                (f"{label}: floor (bare Helm / {jobs})", bare, ""),
                (f"{label}: Helm alone on {jobs} processes", pooled, f"{pooled / bare:.2f}x floor (the build's best)"),
                (f"{label}: cold build, CPU seconds", cold_cpu, f"{cold_cpu / bare_cpu:.2f}x bare Helm's CPU"),
                (f"{label}: bare Helm renders, CPU seconds", bare_cpu, ""),
                (f"{label}: nothing changed (median of 3)", median, f"{median / cold:.1%} of cold (goal <= 5%)"),
                (f"{label}: nothing changed, CPU seconds", statistics.median(unchanged_cpu),
                 f"{statistics.median(unchanged_cpu) / cold_cpu:.1%} of cold's CPU"),
                (f"{label}: one site changed", one_site, f"1/{cold / one_site:.0f} of cold (goal <= 1/30)"),
                (f"{label}: one site changed, CPU seconds", one_site_cpu, f"1/{cold_cpu / one_site_cpu:.0f} of cold's CPU")], figures
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def change_one_site(root: Path) -> None:
    site = sorted((root / "sites").glob("*/site.yaml"))[0]
    site.write_text(site.read_text().replace("cpu_allocation_ratio: 3.0", "cpu_allocation_ratio: 2.5", 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=50, help="sites of the generated fleet (default 50; 0 skips it)")
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1)
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
        measured = [measure("example fleet", work / "example", sources, args.jobs, change_one_site)]
        if args.sites:
            generate_fleet(work / "generated", args.sites)
            measured.append(measure(f"generated {args.sites} sites", work / "generated", sources, args.jobs,
                                    change_one_site))
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
