"""Benchmark: `beskar render` of a generated fleet of N sites against the floor, whole processes, and its parts.

Alternated round by round in one run, medians (CPU seconds of the process, user + sys, which a shared
machine's load inflates less than wall time; wall seconds too, which count the fsyncs):
- floor: PyYAML's C dumper for the same documents plus a plain write of the same files (no stage, no fsync);
- `beskar render`, fresh: a new process, the tree and the render record removed first;
- `beskar render`, no-op: a new process, nothing changed since the last render;
- peak RSS of the fresh render's process.
Goals (issue 17): fresh at most 1.3x the floor (50 sites), no-op at most 0.3x fresh, peak RSS of a 200-site
render under 400 MiB. With --against DIR (a checkout of another commit, e.g. `git worktree add /tmp/before
HEAD~1`), that checkout's `beskar render` runs in the same rounds, and its figures are printed beside these.
In process, best of 3: the parts (compile, emit, tree.write) and tree.write against an fsync per file.
"""

import argparse, ipaddress, os, platform, shutil, statistics, subprocess, sys, tempfile, time, uuid
from pathlib import Path

import yaml
from pyrage import x25519

import beskar
from beskar import tree as trees
from beskar.fleet.examples import write_example
from beskar.operations.compilation import compile_fleet
from beskar.problems import InputError
from beskar.operations.secrets import sync_all
from figures import Figure, report  # the figures on record (benchmarks/figures.py)

HERE = Path(__file__).resolve().parent.parent

CONTROL, COMPUTE, STORAGE = 3, 20, 3
FAMILIES = ("e1", "c2", "c3")  # defined in the example's beskar.yaml
REPEATS = 3


def site_document(index: int, name: str) -> dict:
    """One site modelled on prod-brno: its own /20 of 10.16/12 and its own /24 of 100.64/10 as provider."""
    base = ipaddress.ip_address("10.16.0.0") + index * 4096
    mgmt, storage, tunnel = (ipaddress.ip_network(f"{base + k * 256}/24") for k in (0, 3, 5))
    public = ipaddress.ip_network(f"{ipaddress.ip_address('100.64.0.0') + index * 256}/24")
    nics = [{"name": "eno1"}, {"name": "ens1f0"}, {"name": "ens1f1"}]
    bonds = [{"name": "bond0", "interfaces": ["ens1f0", "ens1f1"], "mode": "802.3ad", "mtu": 9000}]

    def node(kind: str, number: int, host: int, roles: list[str], nets: tuple[str, ...], **extra) -> dict:
        cidrs = {"mgmt": mgmt, "storage": storage, "tunnel": tunnel}
        attached = [{"name": n, "device": "eno1" if n == "mgmt" else "bond0", "address": str(cidrs[n][host])}
                    for n in nets]
        if "network" in roles:
            attached.append({"name": "public", "device": "bond0"})
        return {"name": f"{name}-{kind}-{number}", "roles": roles, **extra, "rack": f"r{(number - 1) % 3 + 1}",
                "interfaces": nics, "bonds": bonds, "networks": attached}

    nodes = [node("ctl", i, 10 + i, ["control-plane", "network"], ("mgmt", "storage", "tunnel"))
             for i in range(1, CONTROL + 1)]
    nodes += [node("cmp", i, 30 + i, ["compute"], ("mgmt", "storage", "tunnel"), flavor_family=FAMILIES[i % 3])
              for i in range(1, COMPUTE + 1)]
    nodes += [node("sto", i, 70 + i, ["storage"], ("mgmt", "storage")) for i in range(1, STORAGE + 1)]
    return {
        "profile": "production", "region": name, "domain": f"{name}.cloud.example.org",
        "kubernetes": {"api_vip": str(mgmt[10])},
        "networks": [
            {"name": "mgmt", "purpose": "management", "cidr": str(mgmt), "gateway": str(mgmt[1]), "mtu": 1500},
            {"name": "storage", "purpose": "storage", "vlan": 2503, "cidr": str(storage), "mtu": 9000},
            {"name": "tunnel", "purpose": "tunnel", "vlan": 2505, "cidr": str(tunnel), "mtu": 9000},
            {"name": "public", "purpose": "provider", "vlan": 2506, "cidr": str(public), "gateway": str(public[1]),
             "mtu": 9000, "physnet": "external", "bridge": "br-ex",
             "pools": [{"start": str(public[20]), "end": str(public[250])}]},
        ],
        "ceph": {"external": {"fsid": str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
                              "monitors": [f"{storage[70 + i]}:6789" for i in range(1, STORAGE + 1)]}},
        "openstack": {"barbican": {"enabled": True, "replicas": 2}, "octavia": {"enabled": True, "replicas": 2},
                      "designate": {"enabled": True, "replicas": 2}, "nova": {"cpu_allocation_ratio": 3.0}},
        "nodes": nodes,
        # Each site its own Flux key (thrown away: the benchmark never decrypts), as `secrets keygen` gives.
        "secrets": {"recipients": [str(x25519.Identity.generate().to_public())]},
    }


def generate_fleet(root: Path, count: int) -> None:
    """The example fleet's beskar.yaml and profiles with `count` generated sites (benchmarks/check.py uses it too)."""
    write_example(root)
    shutil.rmtree(root / "sites")
    for index in range(count):
        name = f"bench-{index + 1:04d}"
        (root / "sites" / name).mkdir(parents=True)
        text = f"# {name}: generated by benchmarks/render.py (layer 3).\n"
        text += yaml.safe_dump(site_document(index, name), sort_keys=False, width=120)
        (root / "sites" / name / "site.yaml").write_text(text)
    sync_all(root)  # every site's Secret `common`, encrypted to its own key and the example's DEMO operator


def write_fsync_per_file(root: Path, emitted: dict[str, bytes]) -> None:
    """The reference for tree.write: the same stage-then-move journal written as Beskar did before, each file
    fsynced as it is written (no batching, no directory syncs: cheaper guarantees, yet slower)."""
    stage = root / ".beskar" / "reference-stage"
    for relative, content in emitted.items():
        staged = stage / relative
        staged.parent.mkdir(parents=True, exist_ok=True)
        with staged.open("wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
    for relative in emitted:
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage / relative, target)
    shutil.rmtree(stage)


def timed(action, repeats: int = REPEATS, before=None) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeats):
        if before:
            before()
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return times, result


def clear(root: Path) -> None:
    """A fresh output: no tree, no render record (the lock and an empty state directory stay)."""
    for top in ("clusters", "apps", "inventory"):
        shutil.rmtree(root / top, ignore_errors=True)
    (root / ".beskar" / "render.json").unlink(missing_ok=True)


# `python -m beskar render`, reporting at exit the peak RSS of its own address space (VmHWM: from exec on;
# ru_maxrss would count the pages of this benchmark, which the child shares until it execs).
_RENDER = ("import atexit, runpy, sys\n"
           "def peak():\n"
           "    status = open('/proc/self/status').read()\n"
           "    line = next((l for l in status.splitlines() if l.startswith('VmHWM:')), 'VmHWM: 0 kB')\n"
           "    sys.stderr.write('PEAK_RSS_KB ' + line.split()[1] + '\\n')\n"
           "atexit.register(peak)\n"
           "sys.argv = ['beskar', 'render', '-C', sys.argv[1], '--format', 'json']\n"
           "runpy.run_module('beskar', run_name='__main__', alter_sys=True)\n")


def child_env(source: Path) -> dict[str, str]:
    """The environment of a measured Beskar process, importing the code under `source` as an installed Beskar
    does: from bytecode (pip compiles it on install), even where this shell sets PYTHONDONTWRITEBYTECODE, which
    would compile every module again in every process (0.3 s of CPU)."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(source)}


def process(source: Path, root: Path) -> tuple[float, float, float]:
    """(CPU seconds, wall seconds, peak RSS MiB) of one `python -m beskar render` by the code under `source`."""
    env = child_env(source)
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", _RENDER, str(root)], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    error = child.stderr.read().decode()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    peaks = [int(line.split()[1]) for line in error.splitlines() if line.startswith("PEAK_RSS_KB ")]
    if code or not peaks:
        raise SystemExit(f"beskar render ({source}) failed ({code}):\n{error[-2000:]}")
    return usage.ru_utime + usage.ru_stime, wall, peaks[-1] / 1024


def floor(documents: dict[str, list], raw: dict[str, bytes], headers: dict[str, bytes], out: Path) -> tuple[float, float]:
    """(CPU, wall) seconds of the floor: PyYAML's C dumper for the same documents, a plain write of each file."""
    shutil.rmtree(out, ignore_errors=True)
    cpu, start = time.process_time(), time.perf_counter()
    made: set[Path] = set()
    for relative, docs in documents.items():
        body = yaml.dump_all(docs, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=False,
                             explicit_start=True, allow_unicode=True, width=120).encode("utf-8")
        _plain_write(out / relative, headers[relative] + body, made)
    for relative, content in raw.items():
        _plain_write(out / relative, headers[relative] + content, made)
    return time.process_time() - cpu, time.perf_counter() - start


def _plain_write(path: Path, content: bytes, made: set[Path]) -> None:
    if path.parent not in made:
        path.parent.mkdir(parents=True, exist_ok=True)
        made.add(path.parent)
    with open(path, "wb") as handle:
        handle.write(content)


def existing_fleet(root: Path, count: int) -> bool:
    return (root / "beskar.yaml").is_file() and len(list((root / "sites").glob("*/site.yaml"))) == count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=50, help="number of generated sites (default 50)")
    parser.add_argument("--keep", type=Path, help="build the fleet in this directory and keep it (a fleet of "
                        "--sites sites already there is used again)")
    parser.add_argument("--against", type=Path, help="a checkout of another commit to run `beskar render` of too")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds of the whole processes (default 3)")
    parser.add_argument("--no-kustomize", action="store_true", help="skip timing `kubectl kustomize`")
    parser.add_argument("--no-record", action="store_true", help="do not record the figures in benchmarks/figures.json")
    args = parser.parse_args()
    if not 1 <= args.sites <= 3400:  # one /20 per site from 10.16.0.0 stays clear of the 10.233/16 k8s CIDRs
        parser.error("--sites must be between 1 and 3400")
    started = time.perf_counter()
    work = args.keep or Path(tempfile.mkdtemp(prefix="beskar-bench-"))
    root = work / "fleet" if args.keep is None else work
    sources = {"this": HERE / "src"}
    if args.against:
        sources["against"] = args.against.resolve() / "src"
    try:
        reused = args.keep is not None and existing_fleet(root, args.sites)
        if not reused:
            generate_fleet(root, args.sites)
        try:
            compile_times, compiled = timed(lambda: compile_fleet(root))
        except InputError as error:
            print(f"beskar rejected the generated fleet:\n{error}", file=sys.stderr)
            return 2
        prefixes = compiled.owned_prefixes()
        emit_times, emitted = timed(compiled.emitted, before=lambda: setattr(compiled, "_emitted", None))
        write_times, _ = timed(lambda: trees.write(root, emitted, prefixes), before=lambda: clear(root))
        reference_times, _ = timed(lambda: write_fsync_per_file(root, emitted), before=lambda: clear(root))
        files, size = len(emitted), sum(len(content) for content in emitted.values())
        documents = {p: d for r in compiled.rendered.values() for p, d in r.tree.files.items()}
        raw = {p: c for r in compiled.rendered.values() for p, c in r.tree.raw.items()}
        headers = {p: trees.header(s) for r in compiled.rendered.values() for p, s in r.tree.sources.items()}
        compiled = None  # its documents above are all the floor needs: the processes measured need the memory
        floor_out = work / "floor-output"

        figures: dict[str, list] = {}
        for _ in range(args.rounds):
            figures.setdefault("floor", []).append(floor(documents, raw, headers, floor_out) + (0.0,))
            for label, source in sources.items():
                clear(root)
                figures.setdefault(f"fresh {label}", []).append(process(source, root))
                figures.setdefault(f"no-op {label}", []).append(process(source, root))
        shutil.rmtree(floor_out, ignore_errors=True)
        clear(root)
        process(sources["this"], root)
        if (root / "clusters").is_dir():
            on_disk = {p.relative_to(root).as_posix(): p.read_bytes() for top in ("clusters", "apps", "inventory")
                       for p in (root / top).rglob("*") if p.is_file()}
            if on_disk != emitted:
                print("`beskar render` wrote another tree than compile_fleet emits", file=sys.stderr)
                return 1

        kubectl = None if args.no_kustomize else shutil.which("kubectl")
        dirs = sorted((root / "clusters").iterdir()) + sorted((root / "apps").glob("*/*"))
        kustomize = None
        if kubectl:
            start = time.perf_counter()
            for directory in dirs:
                run = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True)
                if run.returncode:
                    print(f"kubectl kustomize {directory.relative_to(root)} failed:\n{run.stderr}", file=sys.stderr)
                    return 1
            kustomize = time.perf_counter() - start

        n = args.sites
        print(f"beskar {beskar.__version__} render benchmark: {n} sites x "
              f"({CONTROL} control-plane + {COMPUTE} compute + {STORAGE} storage nodes), barbican/octavia/designate on")
        print(f"cpus {os.cpu_count()}   load {os.getloadavg()[0]:.1f}   python {platform.python_version()}   "
              f"files {files}   bytes {size:,}   fleet {'reused' if reused else 'generated'}")

        def median(key: str, index: int) -> float:
            return statistics.median(f[index] for f in figures[key])

        print(f"\nwhole processes, median of {args.rounds} alternated rounds")
        labels = list(sources)
        print(f"{'figure':<34}" + "".join(f"{label + ' cpu s':>14}{'wall s':>9}{'RSS MiB':>9}" for label in labels))
        print(f"{'floor (C dumper + plain write)':<34}{median('floor', 0):>14.3f}{median('floor', 1):>9.3f}")
        for kind in ("fresh", "no-op"):
            cells = "".join(f"{median(f'{kind} {label}', 0):>14.3f}{median(f'{kind} {label}', 1):>9.3f}"
                            f"{max(f[2] for f in figures[f'{kind} {label}']):>9.0f}" for label in labels)
            print(f"{'beskar render, ' + kind:<34}{cells}")
        for label in labels:
            fresh_cpu, fresh_wall = median(f"fresh {label}", 0), median(f"fresh {label}", 1)
            print(f"{label}: fresh / floor {fresh_cpu / median('floor', 0):.2f}x cpu, "
                  f"{fresh_wall / median('floor', 1):.2f}x wall (goal 1.3x);  no-op / fresh "
                  f"{median(f'no-op {label}', 0) / fresh_cpu:.2f}x cpu, {median(f'no-op {label}', 1) / fresh_wall:.2f}x "
                  f"wall (goal 0.3x);  peak RSS {max(f[2] for f in figures[f'fresh {label}']):.0f} MiB")

        print(f"\nin process, best/median of {REPEATS}")
        rows = [("compile: load+layer+type+render", compile_times), ("emit YAML bytes (compiled.emitted)", emit_times),
                ("write tree (tree.write, empty output)", write_times),
                ("reference: write with fsync per file", reference_times)]
        print(f"{'figure':<40}{'best s':>10}{'median s':>10}{'per site ms':>13}")
        for label, times in rows:
            best, med = min(times), statistics.median(times)
            print(f"{label:<40}{best:>10.3f}{med:>10.3f}{best / n * 1000:>13.1f}")
        ratio = statistics.median(reference_times) / statistics.median(write_times)
        print(f"{'tree.write vs fsync per file (medians)':<40}{ratio:>10.2f}x")
        if kustomize is None:
            print(f"{'kubectl kustomize':<40}  skipped" + ("" if args.no_kustomize else ": kubectl not found on PATH"))
        else:
            label = f"kubectl kustomize ({len(dirs)} dirs, once)"
            print(f"{label:<40}{kustomize:>10.3f}{'':>10}{kustomize / n * 1000:>13.1f}")
        print(f"{'whole script':<40}{time.perf_counter() - started:>10.3f}")
        fresh_cpu, fresh_wall = median("fresh this", 0), median("fresh this", 1)
        report(f"render-{n}", [
            Figure(f"{n} sites: fresh render, wall", fresh_wall, "s"),
            Figure(f"{n} sites: fresh render / floor, wall", fresh_wall / median("floor", 1), "x", "at most 1.3x"),
            # The goal is the wall ratio, as the issue measured it: the floor neither compiles nor uses a second
            # core, so a render's CPU over the floor's is shown beside it, not held to the goal.
            Figure(f"{n} sites: fresh render / floor, CPU", fresh_cpu / median("floor", 0), "x"),
            Figure(f"{n} sites: no-op render / fresh, wall", median("no-op this", 1) / fresh_wall, "x", "at most 0.3x"),
            Figure(f"{n} sites: fresh render, peak RSS", max(f[2] for f in figures["fresh this"]), "MiB",
                   "under 400 MiB for 200 sites" if n == 200 else ""),
            Figure(f"{n} sites: tree.write, faster than an fsync per file", ratio, "x"),
            Figure(f"{n} sites: the whole benchmark", time.perf_counter() - started, "s",
                   "under 5 minutes for 200 sites" if n == 200 else "")], keep=not args.no_record)
        if args.keep:
            print(f"fleet kept in {root}")
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
