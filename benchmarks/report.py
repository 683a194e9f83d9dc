"""Benchmark: `beskar report` over a generated fleet of N sites (the generator of render.py): the whole command,
and in the same run its parts (check, drawing the pages, writing them) with their share of the whole."""

import argparse, os, platform, resource, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render import COMPUTE, CONTROL, STORAGE, generate_fleet  # noqa: E402  (the generator of render.py)

import beskar  # noqa: E402
from beskar.catalog import catalog  # noqa: E402
from beskar.operations import report, review  # noqa: E402
from beskar.operations.compilation import render_fleet  # noqa: E402
from beskar.report import ReportInput, SiteInput, build_report  # noqa: E402

REPEATS = 3


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median_of(action, repeats: int = REPEATS):
    """(median wall seconds, median CPU seconds of this process and the workers it started, the last result)."""
    times, cpu, result = [], [], None
    for _ in range(repeats):
        start, start_cpu, start_children = time.perf_counter(), time.process_time(), _children_cpu()
        result = action()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu + _children_cpu() - start_children)
    return statistics.median(times), statistics.median(cpu), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="beskar-report-bench-"))
    root = work / "fleet"
    try:
        generate_fleet(root, args.sites)
        render_fleet(root)
        output = work / "public"
        start = time.perf_counter()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        command = subprocess.run([sys.executable, "-m", "beskar", "report", "-C", str(root), "--output",
                                  str(output), "--format", "json"], capture_output=True, text=True)
        cli = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cli_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
        if command.returncode != 0:
            print(f"beskar report failed ({command.returncode}):\n{command.stdout[:2000]}{command.stderr}",
                  file=sys.stderr)
            return 1
        whole, whole_cpu, written = median_of(lambda: report.make_report(root, work / "again"))
        check_time, check_cpu, checked = median_of(lambda: review.check(root))
        compiled = checked.compiled
        inputs = ReportInput(
            fleet_name="bench", settings=compiled.fleet.settings,
            sites=tuple(SiteInput(compiled.sites[n], compiled.fleet.sites[n], compiled.rendered[n])
                        for n in sorted(compiled.sites)),
            findings=tuple(checked.findings), catalog=catalog(), generated_at="bench", version=beskar.__version__)
        draw_cold_start = time.perf_counter()
        pages = build_report(inputs)
        draw_cold = time.perf_counter() - draw_cold_start  # grandalf's layouts computed (later runs reuse them)
        draw, draw_cpu, pages = median_of(lambda: build_report(inputs))
        size = sum(len(p.encode()) for p in pages.values())
        print(f"beskar {beskar.__version__} report benchmark: {args.sites} sites x ({CONTROL} control-plane + "
              f"{COMPUTE} compute + {STORAGE} storage nodes)")
        print(f"cpus {os.cpu_count()}   python {platform.python_version()}   pages {len(pages)}   "
              f"HTML {size / 1e6:.1f} MB   findings {len(checked.findings)}")
        print(f"load average {os.getloadavg()[0]:.1f} (wall seconds grow with it; CPU seconds much less)")
        print(f"{'figure':<58}{'wall s':>8}{'CPU s':>8}{'share':>8}")
        print(f"{'beskar report, whole command (CLI process, once)':<58}{cli:>8.2f}{cli_cpu:>8.2f}{'':>8}")
        print(f"{'beskar report in process (median of 3)':<58}{whole:>8.2f}{whole_cpu:>8.2f}{1:>8.0%}")
        print(f"{'  of which beskar check (all cores, every rule)':<58}{check_time:>8.2f}{check_cpu:>8.2f}"
              f"{check_cpu / whole_cpu:>8.0%}")
        print(f"{'  of which drawing every page (layouts cached)':<58}{draw:>8.2f}{draw_cpu:>8.2f}"
              f"{draw_cpu / whole_cpu:>8.0%}")
        print(f"{'drawing every page, first run (grandalf layouts computed)':<58}{draw_cold:>8.2f}{'':>8}{'':>8}")
        print(f"per site (CPU): {whole_cpu / args.sites * 1000:.0f} ms in all, {draw_cpu / args.sites * 1000:.1f} ms "
              f"to draw; the report costs {whole_cpu / check_cpu:.2f}x the check it shows")
        print(f"goal: the whole command under 10 s for 50 sites: {cli:.2f} s wall ({cli / 10:.0%} of it), "
              f"{cli_cpu:.2f} s CPU (load average {os.getloadavg()[0]:.1f} at the end)")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
