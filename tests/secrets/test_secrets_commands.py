"""The secrets commands on the example fleet: sync, show, rotate, recipients, keygen, edit, audit, isolation."""

from __future__ import annotations

import json
from pathlib import Path
import stat
import os
import signal
import sys

import pytest
import yaml

from beskar.fleet.examples import write_example
from beskar.operations import secrets as operations
from beskar.secrets import age
from beskar.secrets.demo import DEMO_RECIPIENTS
from secrets_helpers import DEMO_KEYS, OPERATOR_KEY, beskar, new_identity, open_text, operator

SITE = "prod-brno"
SECRETS = f"sites/{SITE}/secrets.sops.yaml"


@pytest.fixture
def fleet(tmp_path):
    root = tmp_path / "fleet"
    write_example(root)
    return root


@pytest.fixture
def synced(fleet):
    assert operations.sync(fleet, SITE, lambda: []).created
    return fleet


def values(root, key_file=OPERATOR_KEY, site=SITE):
    text = (root / f"sites/{site}/secrets.sops.yaml").read_text()
    return open_text(text, key_file)[0]["stringData"]


def ciphertexts(root, site=SITE):
    return yaml.safe_load((root / f"sites/{site}/secrets.sops.yaml").read_text())["stringData"]


def test_sync_creates_the_file_with_every_needed_key_and_needs_no_private_key(fleet, tmp_path):
    done = beskar("secrets", "sync", SITE, "-C", fleet, home=tmp_path, env={"SOPS_AGE_KEY_FILE": ""})
    assert done.returncode == 0, done.stderr
    assert "created" in done.stdout
    needed = json.loads(beskar("secrets", "keys", SITE, "-C", fleet, "-o", "json").stdout)
    plain = values(fleet)
    assert sorted(plain) == sorted(n["key"] for n in needed)
    kinds = {n["key"]: n["kind"] for n in needed}
    assert all(len(plain[k]) == 32 and plain[k].isalnum() for k, kind in kinds.items() if kind == "password")
    document = yaml.safe_load((fleet / SECRETS).read_text())
    assert document["metadata"] == {"name": "common", "namespace": "openstack",
                                    "annotations": document["metadata"]["annotations"]}
    assert document["sops"]["encrypted_regex"] == "^(data|stringData)$"
    assert all(v.startswith("ENC[AES256_GCM,") for v in document["stringData"].values())
    assert (fleet / ".sops.yaml").read_text().count("path_regex") == 2


def test_sync_changes_nothing_when_nothing_is_missing_and_never_changes_a_value(synced):
    before = (synced / SECRETS).read_bytes()
    again = operations.sync(synced, SITE, lambda: pytest.fail("no identity may be needed"))
    assert not again.written and (synced / SECRETS).read_bytes() == before
    old_plain, old_cipher = values(synced), ciphertexts(synced)
    site_file = synced / f"sites/{SITE}/site.yaml"
    site_file.write_text(site_file.read_text().replace("  designate: {enabled: true, replicas: 2}",
                                                       "  designate: {enabled: true, replicas: 2}\n  octavia: {enabled: true}"))
    grown = operations.sync(synced, SITE, operator())
    assert grown.written and grown.changed and all(k.startswith("octavia.") for k in grown.changed)
    new_plain, new_cipher = values(synced), ciphertexts(synced)
    assert {k: new_plain[k] for k in old_plain} == old_plain
    assert {k: new_cipher[k] for k in old_cipher} == old_cipher  # unchanged values keep their IV and bytes
    site_file.write_text(site_file.read_text().replace("  designate: {enabled: true, replicas: 2}\n", ""))
    shrunk = operations.sync(synced, SITE, operator())
    assert not shrunk.written and any(k.startswith("designate.") for k in shrunk.unused)
    assert values(synced) == new_plain


def test_show_prints_one_value_for_scripts(synced):
    plain = values(synced)
    done = beskar("secrets", "show", SITE, "keystone.identity.admin.password", "-C", synced, "-i", OPERATOR_KEY)
    assert done.returncode == 0 and done.stdout == plain["keystone.identity.admin.password"] + "\n"
    listing = beskar("secrets", "show", SITE, "-C", synced, "-o", "json",
                     env={"SOPS_AGE_KEY": OPERATOR_KEY.read_text()})
    assert json.loads(listing.stdout) == plain


def test_rotate_renews_the_named_key_and_a_key_pair_together(synced):
    before = values(synced)
    done = beskar("secrets", "rotate", SITE, "nova.network.ssh.public_key", "-C", synced, "-i", OPERATOR_KEY)
    assert done.returncode == 0, done.stderr
    after = values(synced)
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"nova.network.ssh.private_key", "nova.network.ssh.public_key"}
    from beskar.secrets.generation import ssh_public_key
    assert ssh_public_key(after["nova.network.ssh.private_key"], f"beskar@{SITE}") == after["nova.network.ssh.public_key"]
    operations.rotate(synced, SITE, None, operator())
    final = values(synced)
    assert all(final[k] != after[k] for k in after)


def test_recipients_add_wraps_the_data_key_and_remove_rotates_the_key_and_every_value(synced, tmp_path):
    key_file, recipient = new_identity(tmp_path, "colleague")
    added = beskar("secrets", "recipients", SITE, "add", recipient, "-C", synced, "-i", OPERATOR_KEY)
    assert added.returncode == 0, added.stderr
    assert recipient in (synced / f"sites/{SITE}/site.yaml").read_text()
    assert "# The site's Flux key. DEMO key" in (synced / f"sites/{SITE}/site.yaml").read_text()
    before = values(synced, key_file)
    assert before == values(synced)
    old_key = yaml.safe_load((synced / SECRETS).read_text())["sops"]["age"][0]["enc"]
    removed = beskar("secrets", "recipients", SITE, "remove", recipient, "-C", synced, "-i", key_file)
    assert removed.returncode == 0, removed.stderr
    assert recipient not in (synced / f"sites/{SITE}/site.yaml").read_text()
    with pytest.raises(Exception, match="none of your"):
        values(synced, key_file)
    after = values(synced)
    assert all(after[k] != before[k] for k in before)
    assert yaml.safe_load((synced / SECRETS).read_text())["sops"]["age"][0]["enc"] != old_key


def test_an_operator_recipient_is_removed_where_it_is_set(synced):
    operator_recipient = next(r for r, name in DEMO_RECIPIENTS.items() if name == "DEMO-operator")
    done = beskar("secrets", "recipients", SITE, "remove", operator_recipient, "-C", synced, "-i", OPERATOR_KEY)
    assert done.returncode == 2 and "beskar.yaml:" in done.stderr and "operator" in done.stderr


def test_keygen_writes_the_identity_outside_the_repo_and_only_the_recipient_inside(synced, tmp_path):
    out = tmp_path / "keys" / "brno.agekey"
    done = beskar("secrets", "keygen", SITE, "--out", out, "-C", synced)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    (identity,) = age.parse_identities(out.read_text(), str(out))
    assert f"kubectl create secret generic sops-age-key-{SITE} -n flux-system --from-file=age.agekey={out}" \
        in done.stdout.replace("\n", "")
    assert identity.recipient in (synced / f"sites/{SITE}/site.yaml").read_text()
    assert identity.recipient in (synced / ".sops.yaml").read_text()
    secret_key = out.read_text().splitlines()[-1]
    assert not any(secret_key in p.read_text(errors="ignore") for p in synced.rglob("*") if p.is_file())
    assert operations.sync(synced, SITE, operator()).added_recipients == (identity.recipient,)
    assert values(synced, out) == values(synced)
    inside = beskar("secrets", "keygen", SITE, "--out", synced / "key.txt", "-C", synced)
    assert inside.returncode == 2 and "inside the fleet repository" in inside.stderr
    piped = beskar("secrets", "keygen", "prod-ostrava", "--out", "-", "-C", synced)
    assert piped.returncode == 0 and piped.stdout.splitlines()[-1].startswith("AGE-SECRET-KEY-1")
    assert "kubectl create secret" in piped.stderr


EDITOR = """import pathlib, sys
path = pathlib.Path(sys.argv[1])
text = path.read_text()
assert oct(path.stat().st_mode & 0o777) == "0o600", oct(path.stat().st_mode)
{action}
"""


def editor(tmp_path, action: str) -> dict[str, str]:
    script = tmp_path / "editor.py"
    script.write_text(EDITOR.format(action=action))
    temporary = tmp_path / "tmp"
    temporary.mkdir(exist_ok=True)
    return {"EDITOR": f"{sys.executable} {script}", "TMPDIR": str(temporary), "XDG_RUNTIME_DIR": str(temporary)}


def test_edit_re_encrypts_what_changed_and_removes_the_plaintext(synced, tmp_path):
    key = "horizon.conf.horizon_secret_key"
    env = editor(tmp_path, f"path.write_text(text.replace({values(synced)[key]!r}, 'edited-by-hand'))\n"
                           "path.with_name('swap.tmp').write_text('editor leftovers')")
    before = ciphertexts(synced)
    done = beskar("secrets", "edit", SITE, "-C", synced, "-i", OPERATOR_KEY, env=env)
    assert done.returncode == 0, done.stderr
    assert values(synced)[key] == "edited-by-hand"
    after = ciphertexts(synced)
    assert {k for k in before if before[k] != after[k]} == {key}
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize("action,message", [("sys.exit(3)", "exited with 3"),
                                            ("path.write_text('a: [\\n')", "YAML syntax error")])
def test_a_failed_edit_leaves_the_file_untouched(synced, tmp_path, action, message):
    before = (synced / SECRETS).read_bytes()
    done = beskar("secrets", "edit", SITE, "-C", synced, "-i", OPERATOR_KEY, env=editor(tmp_path, action))
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert (synced / SECRETS).read_bytes() == before
    assert list((tmp_path / "tmp").iterdir()) == []


# Each catchable signal once, the two places plaintext may live spread over them (not every pairing: each run
# is a real process with an editor, and the handler does not depend on the directory).
@pytest.mark.parametrize("signum, runtime", [(signal.SIGTERM, "xdg"), (signal.SIGHUP, "shm"), (signal.SIGQUIT, "xdg")],
                         ids=["SIGTERM-xdg", "SIGHUP-shm", "SIGQUIT-xdg"])
def test_a_signal_during_edit_removes_the_plaintext(synced, tmp_path, signum, runtime):
    """Killed (catchably) while the editor is open: no plaintext is left, the encrypted file is as it was."""
    import subprocess
    import time
    marker = tmp_path / "editing"
    env = editor(tmp_path, f"pathlib.Path({str(marker)!r}).write_text(str(path))\nimport time\ntime.sleep(60)")
    if runtime == "shm":
        if not Path("/dev/shm").is_dir():
            pytest.skip("no /dev/shm on this machine")
        del env["XDG_RUNTIME_DIR"]
    before = (synced / SECRETS).read_bytes()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_") and k not in ("EDITOR", "VISUAL",
                                                                                               "XDG_RUNTIME_DIR")}
    process = subprocess.Popen([sys.executable, "-m", "beskar", "secrets", "edit", SITE, "-C", str(synced),
                                "-i", str(OPERATOR_KEY)], env={**clean, **env, "NO_COLOR": "1"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        plaintext = Path(marker.read_text())
        assert plaintext.is_file() and plaintext.stat().st_mode & 0o777 == 0o600
        expected_base = tmp_path / "tmp" if runtime == "xdg" else Path("/dev/shm")
        assert plaintext.parent.parent == expected_base
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr
    assert not plaintext.exists() and not plaintext.parent.exists()
    assert (synced / SECRETS).read_bytes() == before


def test_a_site_file_does_not_open_with_another_sites_identity(synced):
    operations.sync(synced, "prod-ostrava", lambda: [])
    done = beskar("secrets", "show", SITE, "-C", synced, "-i", DEMO_KEYS / "DEMO-prod-ostrava.agekey")
    assert done.returncode == 2 and "none of your 1 identities opens" in done.stderr
    assert values(synced, DEMO_KEYS / "DEMO-prod-brno.agekey") == values(synced)
    assert values(synced, DEMO_KEYS / "DEMO-prod-ostrava.agekey", "prod-ostrava")


def test_audit_reports_a_foreign_recipient_missing_keys_and_old_values(synced, tmp_path):
    _, stranger = new_identity(tmp_path, "stranger")
    assert operations.add_recipient(synced, SITE, stranger, operator()).written
    site_file = synced / f"sites/{SITE}/site.yaml"
    site_file.write_text("\n".join(l for l in site_file.read_text().splitlines() if stranger not in l) + "\n")
    # Only the date (YYYY-MM-DD) in beskar/set-on: a password of letters and digits may start with digits too.
    env = editor(tmp_path, "import re\npath.write_text(re.sub(r'(keystone.identity.admin.password): "
                           "[0-9]{4}-[0-9]{2}-[0-9]{2}', r'\\g<1>: 2020-01-01', text))")
    assert beskar("secrets", "edit", SITE, "-C", synced, "-i", OPERATOR_KEY, env=env).returncode == 0
    done = beskar("secrets", "audit", "-C", synced, "--older-than", "90", "-o", "json")
    assert done.returncode == 1
    findings = {(f["site"], f["issue"], f["subject"]) for f in json.loads(done.stdout)}
    assert (SITE, "foreign-recipient", stranger) in findings
    assert (SITE, "old", "keystone.identity.admin.password") in findings
    assert ("prod-ostrava", "no-file", "sites/prod-ostrava/secrets.sops.yaml") in findings
    assert not any(issue == "old" and subject != "keystone.identity.admin.password" for _, issue, subject in findings)


def test_decrypt_and_encrypt_work_on_any_sops_file_outside_a_fleet(tmp_path):
    key_file, recipient = new_identity(tmp_path, "any")
    plain = tmp_path / "config.json"
    plain.write_text(json.dumps({"user": "admin", "port": 5432, "debug": False, "token_unencrypted": "seen"}))
    encrypted = beskar("secrets", "encrypt", plain, "--age", recipient)
    assert encrypted.returncode == 0, encrypted.stderr
    document = json.loads(encrypted.stdout)
    assert document["token_unencrypted"] == "seen" and document["port"].endswith("type:int]")
    assert document["sops"]["unencrypted_suffix"] == "_unencrypted"
    (tmp_path / "config.enc.json").write_text(encrypted.stdout)
    decrypted = beskar("secrets", "decrypt", tmp_path / "config.enc.json", env={"SOPS_AGE_KEY_FILE": str(key_file)})
    assert decrypted.returncode == 0 and json.loads(decrypted.stdout) == json.loads(plain.read_text())
    nobody = beskar("secrets", "decrypt", tmp_path / "config.enc.json", home=tmp_path / "empty-home")
    assert nobody.returncode == 2 and "no age identity" in nobody.stderr
