"""Keys at rest: with a passphrase no secret lies raw in the data dir, and the devices still
start, pair and sync (real `meshd` processes); without one, `meshd` says what that means."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from membership_procs import Meshd
from meshd_procs import MESHD, eventually, meshd, wait_until_healthy

from meshd import identity
from meshd.store import keys

START_TIMEOUT_S = 20.0
NO_PASSPHRASE = "a copy of its data dir"


class LockedMeshd(Meshd):
    """A `meshd run` given its passphrase file."""

    passphrase_file: Path

    def start(self, *peers: str) -> Meshd:
        args = [str(MESHD), "run", "--data-dir", str(self.data_dir), "--api-port",
                str(self.api_port), "--peer-port", str(self.peer_port), "--no-mdns",
                "--passphrase-file", str(self.passphrase_file)]
        for peer in peers:
            args += ["--peer", peer]
        with (self.data_dir.parent / f"{self.data_dir.name}.log").open("a") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, text=True)
        wait_until_healthy(self.process, lambda: self.call("GET", "/api/v1/health")[0] == 200,
                           self.log, START_TIMEOUT_S)
        return self


def _secrets(data_dir: Path, passphrase: str) -> dict[str, bytes]:
    """Every secret of a data dir, as the node holds it in memory."""
    data = identity.load_data_dir(data_dir, passphrase)
    found = {
        "device key": data.device_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
            serialization.NoEncryption()),
        "store key": keys.load_key(data_dir, passphrase),
    }
    found.update({f"mesh key {epoch}": key for epoch, key in data.mesh_keys})
    return found


def _raw_secrets_in(data_dir: Path, passphrase: str) -> list[str]:
    """Which secrets appear (raw, hex or base64) in any file of the data dir."""
    exposed = []
    files = {p: p.read_bytes() for p in data_dir.rglob("*") if p.is_file()}
    for what, secret in _secrets(data_dir, passphrase).items():
        forms = (secret, secret.hex().encode(), base64.b64encode(secret))
        exposed += [f"{what} in {p.name}" for p, body in files.items()
                    if any(form in body for form in forms)]
    return exposed


def test_with_a_passphrase_no_raw_key_is_left_and_the_devices_pair_and_sync(
    tmp_path: Path, procs: list[Meshd],
) -> None:
    pass_a, pass_b = tmp_path / "pass-a", tmp_path / "pass-b"
    pass_a.write_text("mango tree at the well\n")
    pass_b.write_text("kiboko 42\n")
    made = meshd("init", "--data-dir", str(tmp_path / "a"), "--name", "reception",
                 "--passphrase-file", str(pass_a))
    assert made.returncode == 0 and NO_PASSPHRASE not in made.stderr
    a = LockedMeshd(tmp_path / "a")
    a.passphrase_file = pass_a
    procs.append(a.start())
    patient = a.register()
    joined = meshd("join", "--data-dir", str(tmp_path / "b"), "--code", a.open_pairing(),
                   "--peer", a.peer_address, "--passphrase-file", str(pass_b))
    assert joined.returncode == 0, joined.stderr
    b = LockedMeshd(tmp_path / "b")
    b.passphrase_file = pass_b
    procs.append(b.start())
    eventually(lambda: b.has_patient(patient), what="the patient on the joined device")

    for node, secret in ((a, "mango tree at the well"), (b, "kiboko 42")):
        assert _raw_secrets_in(node.data_dir, secret) == []
    assert meshd("status", "--data-dir", str(tmp_path / "b"), "--json").returncode == 1
    assert meshd("status", "--data-dir", str(tmp_path / "b"), "--json",
                 "--passphrase-file", str(pass_b)).returncode == 0


def test_a_data_dir_sealed_before_files_were_is_sealed_when_loaded(tmp_path: Path) -> None:
    made = identity.init_data_dir(tmp_path / "d", device_name="x")
    raw_device = (made.path / identity.DEVICE_KEY_FILE).read_bytes()
    keys.change_passphrase(made.path, None, "simba 7")  # as an older meshd left it
    assert identity.load_data_dir(made.path, "simba 7").device_key.private_bytes_raw() == (
        raw_device)
    assert _raw_secrets_in(made.path, "simba 7") == []


def test_without_a_passphrase_init_and_run_say_a_copy_opens_the_records(tmp_path: Path) -> None:
    made = meshd("init", "--data-dir", str(tmp_path / "open"), "--name", "pharmacy")
    assert made.returncode == 0 and NO_PASSPHRASE in made.stderr
    node = Meshd(tmp_path / "open").start()
    try:
        assert node.call("GET", "/api/v1/health")[0] == 200
    finally:
        node.stop()
    assert NO_PASSPHRASE in node.log()
