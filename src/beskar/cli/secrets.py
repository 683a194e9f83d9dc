"""`beskar secrets`: generate, encrypt, show, edit, rotate and audit the sites' secrets (SOPS with age)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape

from beskar.cli.output import FleetOption, Format, FormatOption, SiteArgument, out, run
from beskar.cli import sopsfiles

if TYPE_CHECKING:
    from beskar.operations.secrets import Change

app = typer.Typer(
    help="The sites' secrets: one Kubernetes Secret `common` per site in sites/<site>/secrets.sops.yaml, its "
         "values SOPS/age-encrypted to the site's own recipients (secrets.recipients in site.yaml: its Flux key) "
         "and the operators' (secrets.operators, usually in beskar.yaml defaults). Key names stay readable; "
         "`beskar render` copies the file as it is into the site's OpenStack layer, where Flux decrypts it.\n\n"
         "Commands that decrypt read age identities from --identity FILE, SOPS_AGE_KEY, SOPS_AGE_KEY_FILE "
         "or ~/.config/sops/age/keys.txt, as sops does. Exit codes: 0 done, 1 findings (audit), "
         "2 unusable input, a file that does not authenticate, or no identity that opens it.",
    no_args_is_help=True,
)
IdentityOption = Annotated[Optional[list[Path]], typer.Option(
    "--identity", "-i", help="An age identity file (repeatable); else SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, "
                             "~/.config/sops/age/keys.txt.")]


def identities(files: list[Path] | None):
    def load():
        from beskar.secrets import age as ages  # the crypto: only in the commands that decrypt, see cli/app.py
        return ages.load_identities(files)
    return load


sopsfiles.register(app, identities)


@app.command("keys")
def secret_keys(
    site: SiteArgument,
    fleet: FleetOption = Path("."),
    output_format: FormatOption = Format.TABLE,
) -> None:
    """List the keys the site's Secret `common` must hold: their kind and the releases that read them."""
    from rich.table import Table
    from beskar.operations import compilation
    compiled = run(lambda: compilation.compile_fleet(fleet, [site]))
    needs = compiled.rendered[site].secrets
    if output_format is Format.JSON:
        out.print_json(json.dumps([{"key": n.key, "kind": n.kind, "readers": list(n.readers)} for n in needs]))
        return
    table = Table(title=f"Secret 'common' of {site}: {len(needs)} keys")
    for column in ("key", "kind", "read by"):
        table.add_column(column)
    for need in needs:
        table.add_row(need.key, need.kind, ", ".join(need.readers))
    out.print(table)


def _report(change: Change, output_format: Format) -> None:
    if output_format is Format.JSON:
        out.print_json(json.dumps(asdict(change)))
        return
    verb = "created" if change.created else "updated" if change.written else "unchanged"
    out.print(f"{escape(change.file)}: {verb}")
    for title, items in (("new values", change.changed), ("recipients added", change.added_recipients),
                         ("recipients removed", change.removed_recipients),
                         ("unused keys (nothing reads them; kept)", change.unused),
                         ("foreign recipients (remove with `recipients SITE remove`)", change.foreign)):
        if items:
            out.print(f"  {title}: {len(items)}")
            for item in items:
                out.print(f"    {escape(item)}")
    for note in change.notes:
        out.print(f"  {escape(note)}")
    if change.written:
        out.print("  next: `beskar render` copies the file into the site's tree")


@app.command()
def sync(
    site: SiteArgument,
    fleet: FleetOption = Path("."),
    identity: IdentityOption = None,
    output_format: FormatOption = Format.TABLE,
) -> None:
    """Create or complete sites/SITE/secrets.sops.yaml: generate every key the site's releases read.

    Missing keys get random values of their kind (passwords of secrets.password_length letters and
    digits, hex tokens, UUIDs, SSH key pairs); existing values are never changed. Recipients configured
    but missing from the file get the data key. Keys nothing reads any more are reported, not removed.
    Creating the file needs no private key; adding to an existing one needs an identity that opens it.
    Also writes .sops.yaml (one creation rule per site) if it is Beskar's or absent.
    """
    from beskar.operations.secrets import sync as do_sync

    _report(run(lambda: do_sync(fleet, site, identities(identity))), output_format)


@app.command()
def show(
    site: SiteArgument,
    key: Annotated[Optional[str], typer.Argument(help="Only this key: its value alone, for scripts.")] = None,
    fleet: FleetOption = Path("."),
    identity: IdentityOption = None,
    output_format: FormatOption = Format.TABLE,
) -> None:
    """Print the site's decrypted values (or one value) to the terminal; nothing is written to disk."""
    from beskar.operations.secrets import show as do_show

    from rich.table import Table
    values, dates = run(lambda: do_show(fleet, site, identities(identity)))
    if key is not None:
        if key not in values:
            from beskar.cli.output import fail_input
            from beskar.problems import InputError, Problem
            fail_input(InputError([Problem(f"{site} has no key {key!r}",
                                           hint=f"`beskar secrets show {site}` lists them")]))
        sys.stdout.write(json.dumps(values[key]) if output_format is Format.JSON else f"{values[key]}\n")
        return
    if output_format is Format.JSON:
        out.print_json(json.dumps(values))
        return
    table = Table(title=f"Secret 'common' of {site}")
    for column in ("key", "value", "set on"):
        table.add_column(column)
    for name in sorted(values):
        table.add_row(escape(name), escape(str(values[name])), dates.get(name, ""))
    out.print(table)


@app.command()
def edit(
    site: SiteArgument,
    fleet: FleetOption = Path("."),
    identity: IdentityOption = None,
) -> None:
    """Edit the decrypted Secret in $EDITOR, then re-encrypt it.

    The plaintext goes to a 0600 file in a private 0700 temporary directory on a RAM-backed filesystem
    where there is one ($XDG_RUNTIME_DIR, else /dev/shm; else the system's temporary directory), removed
    afterwards with anything the editor left there, also when beskar is stopped by Ctrl-C, SIGTERM, SIGHUP
    or SIGQUIT. On any error (editor failure, invalid YAML) the encrypted file
    is left exactly as it was. Unchanged values keep their ciphertext, so the diff shows what you edited.
    The fleet's writers' lock is held while the editor is open, so no sync or rotate meanwhile is lost:
    another writing beskar waits ($BESKAR_LOCK_WAIT seconds), then stops naming this one.
    """
    from beskar.clients.editor import run_editor
    from beskar.operations.editing import edit as do_edit

    _report(run(lambda: do_edit(fleet, site, identities(identity), run_editor)), Format.TABLE)


@app.command()
def rotate(
    site: SiteArgument,
    keys: Annotated[Optional[list[str]], typer.Argument(help="The keys to renew (a key pair renews together).")] = None,
    every: Annotated[bool, typer.Option("--all", help="Renew every key the site needs.")] = False,
    fleet: FleetOption = Path("."),
    identity: IdentityOption = None,
    output_format: FormatOption = Format.TABLE,
) -> None:
    """Give keys new random values (same data key and recipients); run `beskar render` and let Flux apply."""
    from beskar.operations.secrets import rotate as do_rotate

    if bool(keys) == every:
        from beskar.cli.output import fail_input
        from beskar.problems import InputError, Problem
        fail_input(InputError([Problem("name the keys to rotate, or pass --all (not both)")]))
    _report(run(lambda: do_rotate(fleet, site, None if every else list(keys or []), identities(identity))),
            output_format)


@app.command()
def recipients(
    site: SiteArgument,
    action: Annotated[str, typer.Argument(help="add or remove")],
    recipient: Annotated[str, typer.Argument(help="An age recipient (age1...) or ssh-ed25519 public key.")],
    fleet: FleetOption = Path("."),
    identity: IdentityOption = None,
    output_format: FormatOption = Format.TABLE,
) -> None:
    """Add or remove one of the site's own recipients (site.yaml secrets.recipients and the file).

    add: the data key is wrapped for the new recipient; values stay. remove: the file gets a new data
    key and every value the site needs is rotated, since the removed party knew them. Operators'
    recipients are changed in beskar.yaml (then run `remove` per site to rotate).
    """
    from beskar.operations.secrets import add_recipient, remove_recipient

    if action not in ("add", "remove"):
        from beskar.cli.output import fail_input
        from beskar.problems import InputError, Problem
        fail_input(InputError([Problem(f"unknown action {action!r}", hint="add or remove")]))
    do = add_recipient if action == "add" else remove_recipient
    _report(run(lambda: do(fleet, site, recipient, identities(identity))), output_format)


@app.command()
def keygen(
    site: SiteArgument,
    out_file: Annotated[Path, typer.Option(
        "--out", help="Where the new private identity goes: a file OUTSIDE the fleet repository (created 0600, "
                      "never overwritten), or `-` to print it to stdout only (messages then go to stderr).")],
    fleet: FleetOption = Path("."),
    output_format: FormatOption = Format.TABLE,
) -> None:
    """A new age identity for the site's Flux, and the kubectl line that gives it to Flux.

    Only the public recipient enters the fleet: it is added to sites/SITE/site.yaml secrets.recipients
    and .sops.yaml. The private identity is written where --out says and nowhere else; load it into
    the cluster with the printed `kubectl create secret generic sops-age-key-SITE ...` line, then keep
    it in your secret store. Run `beskar secrets sync SITE` afterwards to wrap the data key for it.
    """
    from rich.console import Console

    from beskar.operations.secrets import keygen as do_keygen

    to_stdout = str(out_file) == "-"
    key, text = run(lambda: do_keygen(fleet, site, None if to_stdout else out_file))
    console = Console(stderr=True, highlight=False, emoji=False) if to_stdout else out
    if to_stdout:
        sys.stdout.write(text)
        sys.stdout.flush()
    if output_format is Format.JSON:
        console.print_json(json.dumps(asdict(key)))
        return
    console.print(f"new Flux key of {escape(site)}: {key.recipient}")
    if key.identity_file:
        console.print(f"identity written to {escape(key.identity_file)} (0600); keep it out of Git")
    for note in key.notes:
        console.print(f"  {escape(note)}")
    console.print("give it to Flux:")
    console.print(f"  {escape(key.kubectl)}", soft_wrap=True)


@app.command()
def audit(
    site: Annotated[Optional[list[str]], typer.Option("--site", "-s", help="Only this site (repeatable).")] = None,
    older_than: Annotated[Optional[int], typer.Option(
        "--older-than", help="Flag values set more than DAYS ago (default: each site's secrets.max_age_days).",
        metavar="DAYS")] = None,
    fleet: FleetOption = Path("."),
    output_format: FormatOption = Format.TABLE,
) -> None:
    """Per site: keys missing or unused, values older than N days, recipients that should not be there.

    Needs no private key: key names, dates (metadata annotation beskar/set-on) and recipients are
    clear text. Exit 1 when anything is found.
    """
    from rich.table import Table
    from beskar.operations.audit import audit as do_audit, issue_of
    from beskar.operations.secrets import today
    findings = run(lambda: do_audit(fleet, site, today(), older_than))
    if output_format is Format.JSON:
        out.print_json(json.dumps([{**f.as_json(), "issue": issue_of(f).value, "detail": f.message}
                                   for f in findings]))
    else:
        table = Table(title=f"Secrets audit: {len(findings)} finding(s)")
        for column in ("site", "issue", "subject", "detail"):
            table.add_column(column)
        for finding in findings:
            table.add_row(finding.site, issue_of(finding).value, escape(finding.subject or ""),
                          escape(finding.message))
        out.print(table if findings else "no findings")
    if findings:
        raise typer.Exit(1)
