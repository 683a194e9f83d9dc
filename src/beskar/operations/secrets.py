"""The secrets operations the CLI calls: sync, show, rotate, edit, recipients, keygen, decrypt, encrypt."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

from beskar.fleet import load_fleet, recipients
from beskar.fleet.files import read_text
from beskar.operations.sitesecrets import Identities, SiteSecrets, load, update_sops_config
from beskar.plan import secrets as plan
from beskar.plan.steps import Outcome, ResultType
from beskar.problems import InputError, Origin, Problem
from beskar.secrets import age as ages
from beskar.secrets import generation, sealing, secret, sopsfile
from beskar.secrets.errors import SopsError, as_input_error
from beskar.secrets.sops import KUBERNETES_RULE, Rule
from beskar.tree import locked, write_file


def writes_the_fleet(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command that writes fleet files (a site's secrets file, its site.yaml, .sops.yaml) under the fleet's
    writers' lock, from the first read to the last write, as render does: two at once never lose an update;
    the second waits, then stops with "another beskar is writing this fleet (pid N)" (exit 2)."""
    @functools.wraps(command)
    def under_the_lock(root: Path, *args: Any, **kwargs: Any) -> Any:
        with locked(root):
            return command(root, *args, **kwargs)
    return under_the_lock


def today() -> date:
    return datetime.now(timezone.utc).date()


@dataclass(frozen=True)
class Change:
    """What a command did to a site's secrets file (names only: values are never reported)."""

    site: str
    file: str
    written: bool
    created: bool = False
    changed: tuple[str, ...] = ()
    unused: tuple[str, ...] = ()
    added_recipients: tuple[str, ...] = ()
    removed_recipients: tuple[str, ...] = ()
    foreign: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def _fail(ctx: SiteSecrets, outcomes: list[Outcome]) -> None:
    failed = [o for o in outcomes if o.result.type is ResultType.FAILED]
    if failed:
        raise InputError([Problem(f"{o.step.name}: {o.result.message}", Origin(ctx.relative, 1, 1, "secrets"))
                          for o in failed])


def _apply(ctx: SiteSecrets, steps: plan.Plan, document: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Run the steps on the document's values; the updated document and the keys that changed."""
    values, outcomes = plan.run(steps, secret.values_of(document), generation)
    _fail(ctx, outcomes)
    changed = {o.step.name for o in outcomes if o.result.type is ResultType.COMPLETED}
    return secret.updated(document, ctx.namespace, values, changed, today()), changed


def _write(ctx: SiteSecrets, text: str) -> None:
    write_file(ctx.path, text.encode("utf-8"))


@writes_the_fleet
def sync(root: Path, site: str, identities: Identities) -> Change:
    """Generate every missing key, wrap the data key for missing recipients; never change a value."""
    ctx = load(root, site)
    ctx.require_recipients()
    steps = ctx.plan_sync()
    if steps.problems:
        raise InputError([Problem(p, Origin(ctx.relative, 1, 1, "secrets")) for p in steps.problems])
    if ctx.source is None:
        document, changed = _apply(ctx, steps, secret.empty(ctx.namespace))
        _write(ctx, sealing.seal([document], ctx.wanted, rule=KUBERNETES_RULE))
        return Change(site, ctx.relative, True, True, tuple(sorted(changed)), (), tuple(ctx.wanted),
                      notes=(update_sops_config(root),))
    in_file = list(ctx.source.metadata.recipients)
    missing = [r for r in ctx.wanted if r not in in_file]
    foreign = tuple(r for r in in_file if r not in ctx.wanted)
    metadata = (ctx.source.documents[0].get("metadata") or {})
    misplaced = metadata.get("namespace") != ctx.namespace or metadata.get("name") != secret.NAME
    found = {"site": site, "file": ctx.relative, "unused": steps.unused, "foreign": foreign,
             "added_recipients": tuple(missing)}
    if not steps.steps and not misplaced and not missing:
        return Change(written=False, notes=(update_sops_config(root),), **found)
    opened = ctx.open(identities)
    changed: set[str] = set()
    if not steps.steps and not misplaced:
        _write(ctx, sealing.rewrap(ctx.source, opened.data_key, in_file + missing))
    else:
        document, changed = _apply(ctx, steps, opened.documents[0])
        _write(ctx, sealing.seal([document, *opened.documents[1:]], in_file + missing, data_key=opened.data_key,
                                  stash=opened.stash, keep=ctx.source.metadata.age, rule=ctx.source.metadata.rule))
    return Change(written=True, changed=tuple(sorted(changed)), notes=(update_sops_config(root),), **found)


def show(root: Path, site: str, identities: Identities) -> tuple[dict[str, Any], dict[str, str]]:
    """The decrypted values of the site's Secret and the date each was set."""
    ctx = load(root, site)
    opened = ctx.open(identities)
    return secret.values_of(opened.documents[0]), secret.dates_of(opened.documents[0])


@writes_the_fleet
def rotate(root: Path, site: str, keys: list[str] | None, identities: Identities) -> Change:
    """New values for the named keys (None: every key the site needs), same data key and recipients."""
    ctx = load(root, site)
    opened = ctx.open(identities)
    steps = plan.plan_rotation(ctx.needs, ctx.existing, keys, ctx.site.secrets.password_length, ctx.comment)
    if steps.problems:
        raise InputError([Problem(p, Origin(ctx.relative, 1, 1, "secrets")) for p in steps.problems])
    document, changed = _apply(ctx, steps, opened.documents[0])
    _write(ctx, sealing.seal([document, *opened.documents[1:]], list(ctx.source.metadata.recipients),
                              data_key=opened.data_key, stash=opened.stash, keep=ctx.source.metadata.age,
                              rule=ctx.source.metadata.rule))
    return Change(site, ctx.relative, True, changed=tuple(sorted(changed)), unused=steps.unused)


def _edit_site_file(ctx: SiteSecrets, edit: Callable[[str, str, str], str], recipient: str) -> bool:
    site_file = f"sites/{ctx.name}/site.yaml"
    text = read_text(ctx.root / site_file, site_file)
    new = edit(text, site_file, recipient)
    if new != text:
        write_file(ctx.root / site_file, new.encode("utf-8"))
    return new != text


@writes_the_fleet
def add_recipient(root: Path, site: str, recipient: str, identities: Identities, comment: str = "") -> Change:
    """Add an age recipient to the site (site.yaml) and wrap the data key for it."""
    problem = ages.recipient_problem(recipient)
    if problem:
        raise InputError([Problem(problem)])
    ctx = load(root, site)
    opened = ctx.open(identities) if ctx.source and recipient not in ctx.source.metadata.recipients else None
    edited = _edit_site_file(ctx, lambda t, f, r: recipients.add_recipient(t, f, r, comment), recipient)
    if opened is not None:
        _write(ctx, sealing.rewrap(ctx.source, opened.data_key, [*ctx.source.metadata.recipients, recipient]))
    notes = (f"sites/{site}/site.yaml " + ("updated" if edited else "already lists it"), update_sops_config(root))
    return Change(site, ctx.relative, opened is not None, added_recipients=(recipient,), notes=notes)


@writes_the_fleet
def remove_recipient(root: Path, site: str, recipient: str, identities: Identities) -> Change:
    """Remove a recipient: from site.yaml, and from the file with a new data key and every value rotated."""
    ctx = load(root, site)
    if recipient in ctx.site.secrets.operators:
        index = ctx.site.secrets.operators.index(recipient)
        origin = ctx.layered.origin(("secrets", "operators", index))
        raise InputError([Problem(f"{recipient} is an operator recipient: it opens every site", origin,
                                  hint="remove it from secrets.operators there, then run this command for each site")])
    if recipient in ctx.site.secrets.recipients:
        index = ctx.site.secrets.recipients.index(recipient)
        origin = ctx.layered.origin(("secrets", "recipients", index))
        if origin and origin.file != f"sites/{site}/site.yaml":
            raise InputError([Problem(f"{recipient} is set in {origin.file}, not in the site's file", origin,
                                      hint="remove it there, then run this command again")])
    opened = ctx.open(identities) if ctx.source and recipient in ctx.source.metadata.recipients else None
    remaining = [r for r in (list(ctx.source.metadata.recipients) if ctx.source else []) if r != recipient]
    remaining += [r for r in ctx.wanted if r not in remaining and r != recipient]
    if opened is not None and not remaining:
        raise InputError([Problem(f"{recipient} is the last recipient of {ctx.relative}: nobody could open it",
                                  hint=f"add another first: `beskar secrets recipients {site} add age1...`")])
    edited = _edit_site_file(ctx, recipients.remove_recipient, recipient)
    changed: set[str] = set()
    notes = []
    if opened is not None:
        # The removed party knew the data key and every value: both are replaced.
        steps = plan.plan_rotation(ctx.needs, ctx.existing, [n.key for n in ctx.needs if n.key in ctx.existing],
                                   ctx.site.secrets.password_length, ctx.comment)
        document, changed = _apply(ctx, steps, opened.documents[0])
        _write(ctx, sealing.seal([document, *opened.documents[1:]], remaining, rule=ctx.source.metadata.rule))
        if steps.unused:
            notes.append(f"{len(steps.unused)} unused key(s) kept their values: nothing reads them; "
                         f"remove them with `beskar secrets edit {site}`")
    notes += [f"sites/{site}/site.yaml " + ("updated" if edited else "did not list it"), update_sops_config(root)]
    unused = tuple(sorted(set(ctx.existing) - {n.key for n in ctx.needs})) if opened is not None else ()
    return Change(site, ctx.relative, opened is not None, changed=tuple(sorted(changed)), unused=unused,
                  removed_recipients=(recipient,), notes=tuple(notes))


@dataclass(frozen=True)
class NewKey:
    site: str
    recipient: str
    identity_file: str | None
    kubectl: str
    notes: tuple[str, ...]


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(Path(root).resolve())
        return True
    except ValueError:
        return False


@writes_the_fleet
def keygen(root: Path, site: str, out: Path | None) -> tuple[NewKey, str]:
    """A new age identity for the site's Flux; returns the key record and the identity text.

    The identity is written to `out` (0600, never inside the fleet repository, never over a file)
    or, without `out`, only returned for the caller to print. Only the recipient enters the fleet.
    """
    ctx = load(root, site)
    if out is not None:
        if _inside(out, root):
            raise InputError([Problem(f"{out} is inside the fleet repository: a private key must never be committed",
                                      hint="write it outside, e.g. --out ~/.config/sops/age/" + site + ".agekey")])
        if out.exists():
            raise InputError([Problem(f"{out} exists; Beskar does not overwrite key files")])
    identity, recipient = ages.generate()
    created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = f"# created: {created}\n# public key: {recipient}\n# Flux key of site {site}\n{identity}\n"
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as stream:
            stream.write(text)
    edited = _edit_site_file(ctx, lambda t, f, r: recipients.add_recipient(t, f, r, "the site's Flux key"), recipient)
    notes = [f"sites/{site}/site.yaml " + ("updated" if edited else "already lists it"), update_sops_config(root)]
    if ctx.source is not None:
        notes.append(f"run `beskar secrets sync {site}` (with an operator identity) to wrap the data key for it")
    shown = str(out) if out is not None else "FILE"
    kubectl = (f"kubectl create secret generic sops-age-key-{site} -n flux-system "
               f"--from-file=age.agekey={shown}")
    return NewKey(site, recipient, str(out) if out else None, kubectl, tuple(notes)), text


def decrypt_file(path: Path, identities: Identities, fmt: str | None = None) -> str:
    """`sops -d`: the decrypted document of any SOPS YAML or JSON file, as text."""
    source = _read_any(path, fmt)
    try:
        opened = sealing.open_file(source, identities())
    except SopsError as error:
        raise as_input_error(error) from None
    if source.format == "json":
        return sopsfile.emit_json(opened.documents[0])
    return sopsfile.emit_yaml(opened.documents)


def encrypt_file(path: Path, recipients: list[str], fmt: str | None = None, rule: Rule = Rule()) -> str:
    """`sops -e`: any plain YAML or JSON file encrypted to the recipients, as text."""
    problems = [Problem(p) for p in filter(None, map(ages.recipient_problem, recipients))]
    if problems or not recipients:
        raise InputError(problems or [Problem("no recipient: pass --age age1...[,age1...]")])
    shown = str(path)
    try:
        parsed = sopsfile.parse(read_text(path, shown), shown, fmt)
        return sealing.seal([d if d is not None else {} for d in parsed.documents], recipients,
                             sopsfile.format_of(shown, fmt), rule=rule)
    except SopsError as error:
        raise as_input_error(error.located(shown, None)) from None


def _read_any(path: Path, fmt: str | None) -> sopsfile.SopsFile:
    shown = str(path)
    try:
        return sopsfile.read(read_text(path, shown), shown, fmt)
    except SopsError as error:
        raise as_input_error(error) from None


@writes_the_fleet
def sync_all(root: Path, identities: Identities = lambda: []) -> list[Change]:
    """`beskar secrets sync` for every site; creating files needs no private key, completing them does."""
    return [sync(root, name, identities) for name in sorted(load_fleet(root).sites)]
