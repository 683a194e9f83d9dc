"""The benchmarks' figures on record: this run beside the previous commit's, and the README's table current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import figures  # noqa: E402
from figures import Figure  # noqa: E402

FIRST = [Figure("cold build", 44.9, "s"), Figure("cold / floor", 1.42, "x", "at most 1.3x"),
         Figure("one site", 5, "1/n", "at most 1/30")]
SECOND = [Figure("cold build", 30.0, "s"), Figure("cold / floor", 1.5, "x", "at most 1.3x"),
          Figure("nothing changed", 1.0, "%", "at most 5%")]


def _record(path: Path, benchmark: str, values: list[Figure], commit: str) -> None:
    figures.record(benchmark, values, path, commit=commit, date="2026-12-02", machine="2 cpus, load 0.3",
                   command=f"python benchmarks/{benchmark}.py")


def test_the_entry_of_an_earlier_commit_becomes_previous_and_a_rerun_keeps_it(tmp_path):
    path = tmp_path / "figures.json"
    _record(path, "build", FIRST, "aaaaaaa")
    _record(path, "build", SECOND, "bbbbbbb")
    data = figures._read(path)["build"]
    assert (data["previous"]["commit"], data["this"]["commit"]) == ("aaaaaaa", "bbbbbbb")
    _record(path, "build", FIRST, "bbbbbbb")  # the same commit measured again
    data = figures._read(path)["build"]
    assert data["previous"]["commit"] == "aaaaaaa" and data["this"]["figures"][0]["value"] == 44.9


def test_recording_is_deterministic(tmp_path):
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    for path in (one, two):
        _record(path, "render", FIRST, "aaaaaaa")
        _record(path, "build", SECOND, "aaaaaaa")
    assert one.read_bytes() == two.read_bytes() and one.read_bytes().endswith(b"}\n")
    assert not list(tmp_path.glob(".*.tmp"))


def test_side_by_side_shows_both_runs_their_ratio_and_a_dash_for_a_figure_on_one_side(tmp_path):
    path = tmp_path / "figures.json"
    _record(path, "build", FIRST, "aaaaaaa")
    table = figures.side_by_side("build", SECOND, path, commit="bbbbbbb").splitlines()
    assert table[0].split() == ["figure", "this", "run", "aaaaaaa", "this", "/", "previous", "goal"]
    cold = next(line for line in table if line.startswith("cold build"))
    assert "30.00 s" in cold and "44.90 s" in cold and "0.67x" in cold
    changed = next(line for line in table if line.startswith("nothing changed"))
    assert "1.0%" in changed and changed.count("—") == 2 and "at most 5%" in changed
    # On the same commit again, the earlier commit's figures are still the ones beside.
    _record(path, "build", SECOND, "bbbbbbb")
    again = figures.side_by_side("build", FIRST, path, commit="bbbbbbb")
    assert "aaaaaaa" in again.splitlines()[0] and "1/5" in again


def test_the_readme_block_is_replaced_and_nothing_else(tmp_path):
    path = tmp_path / "figures.json"
    _record(path, "build", FIRST, "aaaaaaa")
    _record(path, "build", SECOND, "bbbbbbb")
    readme = tmp_path / "README.md"
    before, after = "# Title\n\ntext before ü\n\n", "\n\ntext after\n"
    readme.write_text(before + figures.BEGIN + "\nstale\n" + figures.END + after)
    run = ["readme", "--figures", str(path), "--readme", str(readme)]
    assert figures.main([*run, "--check"]) == 1
    assert figures.main(run) == 0
    text = readme.read_text()
    assert text.startswith(before + figures.BEGIN) and text.endswith(figures.END + after)
    assert "| cold build | 30.00 s | 44.90 s |  |" in text
    assert "| nothing changed | 1.0% | — | at most 5% |" in text
    assert "`python benchmarks/build.py` at bbbbbbb (2026-12-02, 2 cpus, load 0.3); previous: aaaaaaa" in text
    assert figures.main([*run, "--check"]) == 0


def test_a_readme_without_the_block_is_a_clear_error(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# no block\n")
    with pytest.raises(SystemExit, match="no <!-- figures:begin -->"):
        figures.main(["readme", "--figures", str(tmp_path / "none.json"), "--readme", str(readme)])


def test_the_repositorys_readme_shows_the_figures_on_record():
    assert figures.main(["readme", "--check"]) == 0, "run `python benchmarks/figures.py readme`"


@pytest.mark.parametrize("benchmark", sorted(p.name for p in BENCHMARKS.glob("*.py")))
def test_every_benchmark_teaches_its_options(benchmark):
    done = subprocess.run([sys.executable, str(BENCHMARKS / benchmark), "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
