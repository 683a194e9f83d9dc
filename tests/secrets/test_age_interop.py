"""Interop with the real `age` CLI: it opens the data key Beskar wraps, and Beskar opens one it wraps."""

from __future__ import annotations

import os
import shutil
import subprocess

import yaml
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from beskar.secrets import cipher, sops, sopsfile
from secrets_helpers import new_identity

AGE = shutil.which("age")


def age_cli(*args: str, data: bytes | None = None) -> bytes:
    assert AGE, "the age CLI (Debian package age) is required; .ci/run installs it"
    done = subprocess.run([AGE, *args], input=data, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def test_the_age_cli_opens_the_data_key_beskar_wraps(tmp_path, run_beskar):
    key_file, recipient = new_identity(tmp_path, "site")
    plain = tmp_path / "secret.yaml"
    plain.write_text("stringData:\n  password: correct-horse\n")
    encrypted = run_beskar("secrets", "encrypt", plain, "--age", recipient, "--encrypted-regex", "^stringData$")
    assert encrypted.returncode == 0, encrypted.stderr
    document = yaml.safe_load(encrypted.stdout)
    armored = tmp_path / "data-key.age"
    armored.write_text(document["sops"]["age"][0]["enc"])
    data_key = age_cli("--decrypt", "-i", str(key_file), str(armored))
    assert len(data_key) == 32
    value = sops.parse_value(document["stringData"]["password"], "password")
    assert AESGCM(data_key).decrypt(value.iv, value.data + value.tag, b"stringData:password:") == b"correct-horse"


def test_beskar_opens_a_data_key_the_age_cli_wraps(tmp_path, run_beskar):
    age_cli("--version")
    keygen = shutil.which("age-keygen")
    assert keygen, "age-keygen comes with the age package"
    key_file = tmp_path / "cli.agekey"
    subprocess.run([keygen, "-o", str(key_file)], check=True, capture_output=True)
    recipient = next(line.split(": ")[1] for line in key_file.read_text().splitlines() if "public key" in line)
    data_key = os.urandom(32)
    armored = age_cli("--encrypt", "--armor", "-r", recipient, data=data_key).decode()
    document = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "stringData": {"k": "from-cli"}}
    encrypted = cipher.encrypt_documents([document], data_key, (sops.AgeKey(recipient, armored),), sops.KUBERNETES_RULE)
    path = tmp_path / "wrapped-by-cli.sops.yaml"
    path.write_text(sopsfile.emit(encrypted.documents, encrypted.metadata, "yaml"))
    decrypted = run_beskar("secrets", "decrypt", path, "--identity", key_file)
    assert decrypted.returncode == 0, decrypted.stderr
    assert yaml.safe_load(decrypted.stdout) == document
