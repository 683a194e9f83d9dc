"""Benchmark: seal and open a site's Secret (43 keys) with Beskar, and the age CLI opening the same data key;
and `secrets sync SITE` on a 10-site and a 200-site fleet (issue 17: within 1.5x, whatever the fleet's size)."""

import argparse, datetime, os, platform, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path

import yaml

import beskar
from beskar.fleet.examples import write_example
from beskar.secrets import age, generation, sealing, secret, sopsfile
from beskar.operations.secrets import sync
from beskar.secrets.sops import KUBERNETES_RULE

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import Figure, report  # noqa: E402

REPEATS = 20


def best(function, repeats=REPEATS):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def generated_sites(root: Path, count: int) -> None:
    """benchmarks/render.py's generated sites, without their secrets files (sync writes the first one)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from render import site_document

    write_example(root)
    shutil.rmtree(root / "sites")
    for index in range(count):
        name = f"bench-{index + 1:04d}"
        (root / "sites" / name).mkdir(parents=True)
        (root / "sites" / name / "site.yaml").write_text(yaml.safe_dump(site_document(index, name), sort_keys=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-record", action="store_true", help="do not record the figures in benchmarks/figures.json")
    args = parser.parse_args()
    print(f"beskar {beskar.__file__}  python {platform.python_version()}  {platform.machine()}  "
          f"{os.cpu_count()} cpus")
    work = Path(tempfile.mkdtemp(prefix="beskar-bench-"))
    identity, recipient = age.generate()
    key_file = work / "key.agekey"
    key_file.write_text(identity + "\n")
    identities = age.parse_identities(identity, "bench")
    values = {f"service{i}.oslo_db.user.password": generation.password() for i in range(40)}
    values["nova.network.ssh.private_key"] = generation.ssh_private_key()
    document = secret.updated(secret.empty("openstack"), "openstack", values, set(values), datetime.date.today())
    text = sealing.seal([document], [recipient], rule=KUBERNETES_RULE)
    source = sopsfile.read(text, "bench.sops.yaml")

    figures = {
        "seal (generate data key, encrypt 41 values, MAC, wrap for 1 recipient)":
            best(lambda: sealing.seal([document], [recipient], rule=KUBERNETES_RULE)),
        "read (parse, no key)": best(lambda: sopsfile.read(text, "bench.sops.yaml")),
        "open (unwrap data key, decrypt 41 values, verify MAC)": best(lambda: sealing.open_file(source, identities)),
    }
    fleet = work / "fleet"

    def first_sync():
        shutil.rmtree(fleet, ignore_errors=True)
        write_example(fleet)
        sync(fleet, "prod-brno", lambda: [])

    figures["`secrets sync` of a new site (compile, generate 43, seal, write)"] = best(first_sync, 5)
    armored = work / "data-key.age"
    armored.write_text(source.metadata.age[0].enc)
    cli = shutil.which("age")
    if cli:
        figures["peer: `age -d` of the same data key (one process)"] = best(
            lambda: subprocess.run([cli, "-d", "-i", str(key_file), str(armored)], check=True, capture_output=True))
    # One site's sync as a user runs it: after an edit of that site's site.yaml (a comment line added, so its
    # bytes differ), 10 and 200 sites alternating in one run. The first command in a fresh clone (no record
    # in .beskar/ yet) parses every site once; it is measured apart.
    roots = {}
    for count in (10, 200):
        roots[count] = work / f"fleet-{count}"
        generated_sites(roots[count], count)
        sync(roots[count], "bench-0001", lambda: [])  # creates the site's file: a different job, not measured
    cold, warm = {10: [], 200: []}, {10: [], 200: []}
    for round_ in range(REPEATS):
        for count, root in roots.items():
            if round_ < 3:
                shutil.rmtree(root / ".beskar", ignore_errors=True)
                (root / ".beskar").mkdir()
                cold[count].append(_timed(lambda: sync(root, "bench-0001", lambda: [])))
            site = root / "sites" / "bench-0001" / "site.yaml"
            site.write_text(site.read_text() + f"# edit {round_}\n")
            warm[count].append(_timed(lambda: sync(root, "bench-0001", lambda: [])))
    by_size = {count: (min(times), statistics.median(times)) for count, times in warm.items()}
    for count in (10, 200):
        figures[f"`secrets sync` of one site of {count} after an edit of it"] = by_size[count]
        figures[f"`secrets sync` of one site of {count}, first command of a clone"] = (
            min(cold[count]), statistics.median(cold[count]))
    for name, (fastest, median) in figures.items():
        print(f"  {name:72} best {fastest * 1000:7.2f} ms   median {median * 1000:7.2f} ms")
    print(f"  sync at 200 sites / at 10 sites (medians): {by_size[200][1] / by_size[10][1]:.2f}x (goal: at most 1.5x)")
    shutil.rmtree(work)
    report("secrets_format", [Figure("`secrets sync` of one site of 200, after an edit", by_size[200][1], "s"),
                              Figure("sync at 200 sites / at 10 sites", by_size[200][1] / by_size[10][1], "x",
                                     "at most 1.5x")], keep=not args.no_record)


if __name__ == "__main__":
    sys.exit(main())
