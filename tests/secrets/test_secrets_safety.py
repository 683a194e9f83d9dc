"""Tampering is detected and nothing is written; no plaintext reaches disk; the demo fleet is encrypted."""

from __future__ import annotations

import base64
import re
import subprocess

import pytest
import yaml

from beskar.fleet.examples import write_example
from beskar.operations import secrets as operations
from beskar.tree import GENERATED_MARK
from secrets_helpers import DEMO_KEYS, OPERATOR_KEY, beskar, open_text

SITE = "prod-brno"
SECRETS = f"sites/{SITE}/secrets.sops.yaml"
K1, K2 = "keystone.identity.admin.password", "nova.oslo_db.nova.password"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("pristine") / "fleet"
    write_example(root)
    operations.sync(root, SITE, lambda: [])
    return root


def _flip(b64: str, index: int = 0) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _field(text: str, key: str, part: str, change) -> str:
    pattern = re.compile(rf"(^\s*{re.escape(key)}: ENC\[AES256_GCM,.*?{part}:)([^,\]]+)", re.M)
    assert pattern.search(text), (key, part)
    return pattern.sub(lambda m: m.group(1) + change(m.group(2)), text, count=1)


def _swap_lines(text: str, first: str, second: str, values_only: bool) -> str:
    lines = text.splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if line.strip().startswith(first + ": ENC["))
    j = next(n for n, line in enumerate(lines) if line.strip().startswith(second + ": ENC["))
    if values_only:
        value_i, value_j = lines[i].split(": ", 1)[1], lines[j].split(": ", 1)[1]
        lines[i] = lines[i].split(": ", 1)[0] + ": " + value_j
        lines[j] = lines[j].split(": ", 1)[0] + ": " + value_i
    else:
        lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


TAMPERING = {
    "bit in a value": (lambda t: _field(t, K1, "data", _flip), "authentication failed", K1),
    "bit in an iv": (lambda t: _field(t, K1, "iv", lambda v: _flip(v, 31)), "authentication failed", K1),
    "bit in a tag": (lambda t: _field(t, K1, "tag", _flip), "authentication failed", K1),
    "bit in the mac": (lambda t: _field(t, "mac", "data", lambda v: _flip(v, 7)), "authentication failed", "sops.mac"),
    "swapped values": (lambda t: _swap_lines(t, K1, K2, True), "authentication failed", K1),
    "changed metadata.name": (lambda t: t.replace("    name: common\n", "    name: uncommon\n"), "MAC mismatch",
                              "sops.mac"),
    "reordered keys": (lambda t: _swap_lines(t, K1, K2, False), "MAC mismatch", "sops.mac"),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampering_is_detected_names_the_key_exits_2_and_writes_nothing(pristine, tmp_path, case):
    root = tmp_path / "fleet"
    subprocess.run(["cp", "-a", str(pristine), str(root)], check=True)
    tamper, message, key = TAMPERING[case]
    original = (root / SECRETS).read_text()
    tampered = tamper(original)
    assert tampered != original
    (root / SECRETS).write_text(tampered)
    listing = sorted(p.name for p in (root / f"sites/{SITE}").iterdir())
    for command in (["secrets", "rotate", SITE, "--all"], ["secrets", "sync", SITE], ["secrets", "show", SITE]):
        if command[1] == "sync":  # sync decrypts only when there is work: give it some
            (root / "sites/prod-brno/site.yaml").write_text(
                (root / "sites/prod-brno/site.yaml").read_text().replace("designate: {enabled: true, replicas: 2}",
                                                                         "designate: {enabled: true, replicas: 2}\n  octavia: {enabled: true}"))
        done = beskar(*command, "-C", root, "-i", OPERATOR_KEY)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert message in done.stderr and key in done.stderr and f"{SECRETS}:" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
        assert (root / SECRETS).read_text() == tampered
        assert sorted(p.name for p in (root / f"sites/{SITE}").iterdir()) == listing
    decrypted = beskar("secrets", "decrypt", root / SECRETS, "-i", OPERATOR_KEY)
    assert decrypted.returncode == 2 and decrypted.stdout == "" and key in decrypted.stderr


def test_no_plaintext_value_reaches_disk_through_sync_rotate_or_render(tmp_path):
    root = tmp_path / "fleet"
    write_example(root)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {"TMPDIR": str(temporary)}
    for command in (["secrets", "sync", SITE], ["secrets", "sync", "prod-ostrava"],
                    ["secrets", "rotate", SITE, "--all", "-i", OPERATOR_KEY],
                    ["secrets", "rotate", "prod-ostrava", "nova.network.ssh.private_key", "-i", OPERATOR_KEY],
                    ["render"]):
        done = beskar(*command, "-C", root, env=env, home=tmp_path / "home")
        assert done.returncode == 0, (command, done.stderr)
    plain = []
    for site in (SITE, "prod-ostrava"):
        document = open_text((root / f"sites/{site}/secrets.sops.yaml").read_text(), OPERATOR_KEY)[0]
        plain += [v for v in document["stringData"].values()]
    assert len(plain) > 80
    # Private keys are scanned by their body lines, passwords whole.
    needles = {line for value in plain for line in value.splitlines() if len(line) >= 16 and "-----" not in line}
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "home" not in p.parts]
    assert any("apps/prod-brno/03-openstack" in p.as_posix() for p in written)
    for path in written:
        content = path.read_bytes()
        leaked = [n for n in needles if n.encode() in content]
        assert not leaked, f"{path} holds plaintext"
    assert list(temporary.iterdir()) == []


def test_the_demo_fleet_has_encrypted_secrets_per_site_and_renders_offline(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    for root in (first, second):
        done = beskar("demo", root, env={"GIT_CONFIG_GLOBAL": "/dev/null"})
        assert done.returncode == 0, done.stderr
        assert "DEMO" in done.stdout
    for site in (SITE, "prod-ostrava"):
        source = (first / f"sites/{site}/secrets.sops.yaml").read_bytes()
        copy = (first / f"apps/{site}/03-openstack/00-common-encryptedsecret.yaml").read_bytes()
        header, rest = copy.split(b"\n", 1)
        assert header.startswith(GENERATED_MARK.encode()) and rest == source
        assert open_text(source.decode(), DEMO_KEYS / f"DEMO-{site}.agekey")[0]["stringData"]
        assert open_text(source.decode(), OPERATOR_KEY)[0]["metadata"]["name"] == "common"
        other = "prod-ostrava" if site == SITE else SITE
        with pytest.raises(Exception, match="none of your"):
            open_text(source.decode(), DEMO_KEYS / f"DEMO-{other}.agekey")
        kustomization = yaml.safe_load((first / f"apps/{site}/03-openstack/kustomization.yaml").read_text().split("\n", 1)[1])
        assert "00-common-encryptedsecret.yaml" in kustomization["resources"]
    check = beskar("render", "--check", "-C", first)
    assert check.returncode == 0 and "up to date" in check.stdout
    rerender = beskar("render", "-C", first)
    assert rerender.returncode == 0 and "nothing to change" in rerender.stdout
    files = lambda root: {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
                          if p.is_file() and not {".git", ".beskar"} & set(p.parts) and "secret" not in p.name}
    assert files(first) == files(second)  # everything but the random secrets is deterministic
    built = subprocess.run(["kubectl", "kustomize", str(first / f"apps/{SITE}/03-openstack")],
                           capture_output=True, text=True, check=True)
    secret = next(d for d in yaml.safe_load_all(built.stdout) if d and d["kind"] == "Secret")
    assert secret["metadata"]["name"] == "common" and secret["sops"]["mac"].startswith("ENC[")


def test_render_works_without_a_secrets_file(tmp_path):
    root = tmp_path / "fleet"
    write_example(root)
    done = beskar("render", "-C", root)
    assert done.returncode == 0, done.stderr
    assert not (root / "apps/prod-brno/03-openstack/00-common-encryptedsecret.yaml").exists()
    operations.sync(root, SITE, lambda: [])
    stale = beskar("render", "--check", "-C", root)
    assert stale.returncode == 1 and "missing   apps/prod-brno/03-openstack/00-common-encryptedsecret.yaml" in stale.stdout
    (root / SECRETS).unlink()
    assert beskar("render", "-C", root).returncode == 0
    assert not (root / "apps/prod-brno/03-openstack/00-common-encryptedsecret.yaml").exists()
