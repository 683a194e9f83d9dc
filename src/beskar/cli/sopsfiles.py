"""`beskar secrets decrypt|encrypt`: plain `sops -d` / `sops -e` for any SOPS YAML or JSON file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from beskar.cli.output import run

TypeOption = Annotated[Optional[str], typer.Option(
    "--input-type", help="yaml or json (default: from the file name: .json is JSON, anything else YAML).")]


def register(app: typer.Typer, identities: Callable) -> None:
    """Add decrypt and encrypt to the `secrets` group."""

    @app.command()
    def decrypt(
        file: Annotated[Path, typer.Argument(help="A SOPS-encrypted YAML or JSON file.")],
        identity: Annotated[Optional[list[Path]], typer.Option(
            "--identity", "-i", help="An age identity file (repeatable); else SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, "
                                     "~/.config/sops/age/keys.txt.")] = None,
        input_type: TypeOption = None,
    ) -> None:
        """Decrypt any SOPS file to stdout, as `sops -d` does: every value authenticated, the MAC verified.

        Works outside a fleet too. Comments are not carried over. Exit 2 if no identity opens the file or
        anything in it was tampered with (the error names the key).
        """
        from beskar.operations.secrets import decrypt_file

        if input_type not in (None, "yaml", "json"):
            raise typer.BadParameter("yaml or json", param_hint="--input-type")
        sys.stdout.write(run(lambda: decrypt_file(file, identities(identity), input_type)))

    @app.command()
    def encrypt(
        file: Annotated[Path, typer.Argument(help="A plain YAML or JSON file.")],
        recipients: Annotated[str, typer.Option("--age", help="Comma-separated age recipients (age1...).")],
        encrypted_regex: Annotated[Optional[str], typer.Option(
            "--encrypted-regex", help="Encrypt only values under a key matching this, e.g. "
                                      "'^(data|stringData)$' for Kubernetes Secrets.")] = None,
        unencrypted_suffix: Annotated[Optional[str], typer.Option(
            "--unencrypted-suffix", help="Leave values under keys ending with this clear (sops' default: "
                                         "_unencrypted).")] = None,
        input_type: TypeOption = None,
    ) -> None:
        """Encrypt a plain YAML or JSON file to stdout, as `sops -e --age ...` does; the file is not changed."""
        from beskar.operations.secrets import encrypt_file
        from beskar.secrets.sops import Rule

        if encrypted_regex and unencrypted_suffix:
            raise typer.BadParameter("pass one of --encrypted-regex and --unencrypted-suffix")
        rule = Rule("encrypted_regex", encrypted_regex) if encrypted_regex else \
            Rule("unencrypted_suffix", unencrypted_suffix or "_unencrypted")
        listed = [r.strip() for r in recipients.split(",") if r.strip()]
        sys.stdout.write(run(lambda: encrypt_file(file, listed, input_type, rule)))
