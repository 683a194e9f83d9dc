"""Helpers the secrets tests share: identities, encrypting a document, and reading a file back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from beskar.secrets import age, sealing, sopsfile

FIXTURES = Path(__file__).parent / "fixtures" / "sops"
DEMO_KEYS = Path(__file__).parent.parent / "src" / "beskar" / "examples" / "fleet" / "demo-keys"


def new_identity(directory: Path, name: str) -> tuple[Path, str]:
    """A fresh age identity written as a key file; returns (key file, recipient)."""
    identity, recipient = age.generate()
    path = directory / f"{name}.agekey"
    path.write_text(f"# public key: {recipient}\n{identity}\n")
    return path, recipient


def open_text(text: str, key_file: Path, file: str = "secrets.sops.yaml") -> list[Any]:
    source = sopsfile.read(text, file)
    return sealing.open_file(source, age.parse_identities(key_file.read_text(), str(key_file))).documents


def beskar(*args, cwd: Path | None = None, env: dict[str, str] | None = None, home: Path | None = None,
           timeout: float = 120):
    """`python -m beskar ARGS` with no age identity in the environment unless `env` gives one."""
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("SOPS_") and k not in ("FORCE_COLOR", "CLICOLOR_FORCE", "EDITOR", "VISUAL")}
    clean.update(NO_COLOR="1", COLUMNS="250")
    import tempfile

    home = home or Path(tempfile.mkdtemp(prefix="beskar-home-"))  # no ~/.config/sops/age/keys.txt of the runner
    clean.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    clean.update(env or {})
    return subprocess.run([sys.executable, "-m", "beskar", *map(str, args)], cwd=cwd, env=clean,
                          capture_output=True, text=True, timeout=timeout)


OPERATOR_KEY = DEMO_KEYS / "DEMO-operator.agekey"

# `beskar check` of the example as `beskar demo` writes it finds only this: a warning that the fleet uses the
# published DEMO keys, at each place that lists one, for each site it applies to. (rule, severity, file, site)
DEMO_WARNING = "model/secrets-demo-recipient"
# The global operator key is one finding for the fleet (no site), not one per site that inherits it.
DEMO_FINDINGS = sorted(((DEMO_WARNING, "warning", file, site) for file, site in [
    ("beskar.yaml", None), ("sites/prod-brno/site.yaml", "prod-brno"),
    ("sites/prod-ostrava/site.yaml", "prod-ostrava")]), key=lambda f: (f[2], f[3] or ""))


def sync_every_site(root: Path, key_files: list[Path]) -> None:
    """`beskar secrets sync` for every site of the fleet, as a user runs it before committing; existing files
    are opened (to add keys or recipients) with the identities of key_files."""
    from beskar.operations.secrets import sync_all

    sync_all(root, lambda: [i for key in key_files for i in age.parse_identities(key.read_text(), str(key))])


def operator():
    """Lazy identities of the demo operator (for the operations' `identities` argument)."""
    return lambda: age.parse_identities(OPERATOR_KEY.read_text(), str(OPERATOR_KEY))
