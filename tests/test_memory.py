"""The collector paused over bulk work: on again after it, and what the pause made left unwalked in a CLI process."""

from __future__ import annotations

import subprocess
import sys

import beskar.memory as memory

_PAUSE = """
import gc, sys
from beskar import memory
if sys.argv[1] == "cli":
    memory.keep_what_pauses_make()
with memory.paused_gc():
    assert not gc.isenabled()
    made = [[n] for n in range(5000)]
print(gc.isenabled(), gc.get_freeze_count() >= 5000)
"""


def _pause(kind: str) -> str:
    return subprocess.run([sys.executable, "-c", _PAUSE, kind], capture_output=True, text=True, check=True).stdout


def test_a_pause_ends_with_the_collector_on_and_nothing_frozen_in_a_long_lived_process():
    assert _pause("tests") == "True False\n"


def test_a_cli_process_freezes_what_a_pause_made():
    assert _pause("cli") == "True True\n"


def test_a_nested_pause_leaves_the_collector_to_the_outer_one():
    import gc
    with memory.paused_gc():
        with memory.paused_gc():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_beskar_command_keeps_what_pauses_make():
    probe = ("import sys, beskar.memory as m, beskar.cli; a = sys.modules['beskar.cli.app']; a.app = lambda: None; "
             "a.main(); print(m._keep_made)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout == "True\n"
