"""Compiling a fleet site by site on forked workers gives what one process gives: the same layered, typed and
rendered sites, and the same input problems, raised at the same stage."""

from __future__ import annotations

import pickle

import pytest

from beskar.operations import compilation, emission
from beskar.problems import InputError


@pytest.fixture
def on_workers(monkeypatch):
    """Even two sites are shared among workers."""
    monkeypatch.setattr(emission, "MIN_PARALLEL_SITES", 1)


def test_a_compiled_site_comes_back_from_a_worker_as_it_was(demo_fleet):
    work = compilation.Compilation(demo_fleet, jobs=1)
    _, sites = work.wait()
    assert sorted(sites) == ["prod-brno", "prod-ostrava"]
    for compiled in sites.values():
        back = pickle.loads(pickle.dumps(compiled))
        assert back.layered == compiled.layered and back.site == compiled.site
        assert back.layered.origin(("networks",)) == compiled.layered.origin(("networks",))
        assert back.rendered.tree.emit() == compiled.rendered.tree.emit()
        assert back.rendered.components == compiled.rendered.components
        assert back.rendered.secrets == compiled.rendered.secrets


def test_compiling_on_workers_gives_what_one_process_gives(demo_fleet, on_workers):
    alone = compilation.compile_fleet(demo_fleet, jobs=1)
    forked = compilation.compile_fleet(demo_fleet, jobs=2)
    assert list(forked.sites) == list(alone.sites) == ["prod-brno", "prod-ostrava"]
    assert forked.sites == alone.sites
    assert forked.fleet.sites == alone.fleet.sites
    assert forked.fleet.settings == alone.fleet.settings
    assert forked.fleet.bootstrapped == alone.fleet.bootstrapped
    assert forked.emitted() == alone.emitted()


def test_sites_are_compiled_in_worker_processes_and_come_back(demo_fleet, on_workers):
    import os
    import time

    parent = os.getpid()

    def where(compiled):
        if os.getpid() == parent:
            time.sleep(0.5)  # whatever this process took, a worker takes the other site meanwhile
        return os.getpid(), compiled.layered

    fleet, made = compilation.Compilation(demo_fleet, each=where, jobs=2).wait()
    assert {pid for pid, _ in made.values()} - {parent}, "no site was compiled by a worker"
    assert all(layered == fleet.sites[name] for name, (_, layered) in made.items())
    assert fleet.sites == compilation.compile_fleet(demo_fleet, jobs=1).fleet.sites


def test_each_site_is_given_to_each_as_soon_as_it_is_rendered(demo_fleet, on_workers):
    _, made = compilation.Compilation(demo_fleet, each=lambda c: (c.layered.name, len(c.rendered.tree.files)),
                                      jobs=2).wait()
    assert [name for name, _ in made.values()] == list(made) == ["prod-brno", "prod-ostrava"]
    assert all(files > 20 for _, files in made.values())


def _problems(root, jobs: int) -> list[str]:
    with pytest.raises(InputError) as raised:
        compilation.compile_fleet(root, jobs=jobs)
    return [f"{p.origin}: {p.message}" for p in raised.value.problems]


def test_workers_raise_every_sites_problems_of_the_earliest_stage(demo_fleet, on_workers):
    brno, ostrava = (demo_fleet / f"sites/{name}/site.yaml" for name in ("prod-brno", "prod-ostrava"))
    brno_text, ostrava_text = brno.read_text(), ostrava.read_text()
    # A typing problem in each site: both are raised, in the sites' order.
    brno.write_text(brno_text + "no_such_setting: 1\n")
    ostrava.write_text(ostrava_text + "no_such_setting: 2\n")
    typing = _problems(demo_fleet, jobs=1)
    assert _problems(demo_fleet, jobs=2) == typing
    assert [p.split(":")[0] for p in typing] == ["sites/prod-brno/site.yaml", "sites/prod-ostrava/site.yaml"]
    # A site that cannot be layered: only the layering problem is raised, as loading the fleet would, although the
    # other site's typing problem is still there.
    brno.write_text("name: prod-elsewhere\n" + brno_text)
    layering = _problems(demo_fleet, jobs=1)
    assert _problems(demo_fleet, jobs=2) == layering
    assert len(layering) == 1 and "differs from its directory" in layering[0], layering


def test_the_check_reads_what_a_person_wrote_in_a_sites_directory(demo_fleet, on_workers):
    """The sites' own directories are read after the compile, for what Beskar did not write there: a hand-written
    file is still checked (here: nothing lists it), and a file Beskar would delete is not."""
    from beskar.operations import review

    layer = next(p for p in sorted((demo_fleet / "apps/prod-brno").iterdir()) if p.is_dir())
    (layer / "notes.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n")
    generated = sorted(layer.glob("*.yaml"))[0]
    (layer / "zz-left-over.yaml").write_text(generated.read_text())
    for jobs in (1, 2):
        findings = review.check(demo_fleet, jobs=jobs).findings
        orphans = {f.file for f in findings if f.rule == "tree/orphan-file"}
        stale = {f.file for f in findings if f.rule == "tree/stale"}
        relative = lambda name: f"{layer.relative_to(demo_fleet).as_posix()}/{name}"  # noqa: E731
        assert relative("notes.yaml") in orphans, (jobs, orphans)
        assert relative("zz-left-over.yaml") in stale and relative("zz-left-over.yaml") not in orphans, jobs


def test_a_render_on_workers_writes_the_tree_and_record_one_process_writes(demo_fleet, tmp_path, monkeypatch):
    import shutil

    from beskar.operations import rendering
    from beskar.tree import digest

    def rendered(root):
        for top in ("clusters", "apps", "inventory", ".beskar"):
            shutil.rmtree(root / top, ignore_errors=True)
        result = rendering.render_tree(root)
        files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
                 if p.is_file() and p.parts[len(root.parts)] in ("clusters", "apps", "inventory")}
        return result, files, (root / digest.RECORD_FILE).read_bytes()

    other = tmp_path / "other"
    shutil.copytree(demo_fleet, other, symlinks=True)
    alone = rendered(demo_fleet)
    monkeypatch.setattr(emission, "MIN_PARALLEL_SITES", 1)
    forked = rendered(other)
    assert forked[0].sites == alone[0].sites and len(alone[1]) > 80
    assert forked[1] == alone[1]
    assert forked[2] == alone[2]
