"""`beskar secrets edit`: decrypt to a 0600 temporary file, let the user edit it, re-encrypt, clean up."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from beskar.problems import InputError, Problem
from beskar.secrets import sealing, secret
from beskar.operations.secrets import Change, today, writes_the_fleet
from beskar.operations.sitesecrets import Identities, load
from beskar.secrets.yamlio import emit_yaml, load_yaml
from beskar.tree import write_file

HEADER = ("# The decrypted Secret of site {site}. Edit values under stringData, save and quit.\n"
          "# This file is removed afterwards; on any error the encrypted file is left as it was.\n")


@contextlib.contextmanager
def _private_directory() -> Iterator[Path]:
    """A 0700 temporary directory, removed with everything in it (editor swap files too) on exit, and on SIGTERM,
    SIGHUP or SIGQUIT as on Ctrl-C. It is on a RAM-backed filesystem where there is one ($XDG_RUNTIME_DIR,
    /dev/shm), so plaintext never reaches a disk there."""
    directory = Path(tempfile.mkdtemp(prefix="beskar-secrets-", dir=_memory_directory()))
    previous = {}

    def stop(signum, frame):
        raise SystemExit(128 + signum)  # unwinds through the finally below, like KeyboardInterrupt does

    try:
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            try:
                previous[signum] = signal.signal(signum, stop)
            except ValueError:  # not the main thread: no handlers there
                break
        os.chmod(directory, 0o700)
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _memory_directory() -> str | None:
    for candidate in (os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm"):
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return candidate
    return None  # the system's temporary directory


@writes_the_fleet  # the whole session: a sync or rotate meanwhile would otherwise be overwritten
def edit(root: Path, site: str, identities: Identities, run_editor: Callable[[Path], None]) -> Change:
    """Edit the site's Secret in plaintext; the only moment plaintext touches disk (0600, in a 0700 dir)."""
    ctx = load(root, site)
    opened = ctx.open(identities)
    original = HEADER.format(site=site) + emit_yaml(opened.documents)
    with _private_directory() as directory:
        temporary = directory / "secrets.yaml"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(original)
        run_editor(temporary)
        edited = temporary.read_text(encoding="utf-8")
    if edited == original:
        return Change(site, ctx.relative, False, notes=("no change",))
    documents = load_yaml(edited, "(edited secrets)").documents
    if len(documents) != 1 or not isinstance(documents[0], dict) or "sops" in documents[0]:
        raise InputError([Problem("the edited file must be one YAML mapping without a `sops` key; nothing was changed")])
    document = documents[0]
    values = secret.values_of(document)
    bad = [key for key, value in values.items() if not isinstance(value, str)]
    if bad:
        raise InputError([Problem(f"stringData.{key} must be a string (quote it); nothing was changed") for key in bad])
    before = secret.values_of(opened.documents[0])
    changed = {key for key, value in values.items() if before.get(key) != value}
    updated = secret.updated(document, ctx.namespace, values, changed, today())
    write_file(ctx.path, sealing.seal(
        [updated], list(ctx.source.metadata.recipients), data_key=opened.data_key, stash=opened.stash,
        keep=ctx.source.metadata.age, rule=ctx.source.metadata.rule).encode("utf-8"))
    return Change(site, ctx.relative, True, changed=tuple(sorted(changed)),
                  unused=tuple(sorted(set(before) - set(values))))
