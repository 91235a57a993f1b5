"""A real `meshd relay` process for tests: a self-signed TLS pair, credentials, its API."""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from meshd_procs import MESHD, free_port, meshd, stop_process, wait_until_healthy

START_TIMEOUT_S = 20.0
API_TIMEOUT_S = 15.0


def self_signed_pair(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A certificate for `host` (IP and localhost) and its key, as PEM files in `directory`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "clinicmesh test relay")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "relay.crt", directory / "relay.key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class RelayProcess:
    """A `meshd relay` subprocess on 127.0.0.1."""

    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    db: str | None = None  # postgresql://… (tests/relay/pg_procs.py), else SQLite
    name: str = "relay"  # a second process on the same data dir and database logs apart

    @property
    def data_dir(self) -> Path:
        return self.root / "relay-data"

    @property
    def cert(self) -> Path:
        return self.root / "tls" / "relay.crt"

    def start(self) -> RelayProcess:
        """Start the relay (making its TLS pair the first time) and wait until it answers."""
        if not self.cert.exists():
            self_signed_pair(self.root / "tls")
        args = [str(MESHD), "relay", "--data-dir", str(self.data_dir), "--listen",
                f"127.0.0.1:{self.port}", "--cert", str(self.cert),
                "--key", str(self.root / "tls" / "relay.key.pem")]
        if self.db:
            args += ["--db", self.db]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.root / f"{self.name}.log").open("a")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, text=True)
        log.close()
        wait_until_healthy(self.process, lambda: self.call("GET", "/relay/v1/health")[0] == 200,
                           self.log, START_TIMEOUT_S)
        return self

    def log(self) -> str:
        return (self.root / f"{self.name}.log").read_text()[-4000:]

    def call(self, method: str, path: str, bearer: str = "", body: Any = None
             ) -> tuple[int, Any]:
        """One HTTPS request to the relay (trusting its own certificate)."""
        request = urllib.request.Request(
            f"https://127.0.0.1:{self.port}{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"})
        context = ssl.create_default_context(cafile=str(self.cert))
        try:
            with urllib.request.urlopen(request, timeout=API_TIMEOUT_S,
                                        context=context) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def add_clinic(self, name: str) -> Path:
        """`meshd relay add-clinic`: the credential file."""
        out = self.root / f"{name.replace(' ', '-')}.credential"
        done = meshd("relay", "add-clinic", "--data-dir", str(self.data_dir), name,
                     "--out", str(out))
        assert done.returncode == 0, done.stderr
        return out

    def add_service(self, name: str, clinic: str) -> str:
        """`meshd relay add-service`: the service's bearer (id.secret)."""
        out = self.root / f"{name.replace(' ', '-')}.service"
        done = meshd("relay", "add-service", "--data-dir", str(self.data_dir), name,
                     "--clinic", clinic, "--out", str(out))
        assert done.returncode == 0, done.stderr
        written = json.loads(out.read_text())
        return f"{written['clinic_id']}.{written['secret']}"

    def status(self) -> dict[str, Any]:
        """`meshd relay status --json`."""
        done = meshd("relay", "status", "--data-dir", str(self.data_dir), "--json")
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    def clinic(self, name: str) -> dict[str, Any]:
        """The clinic's entry in the status."""
        return next(c for c in self.status()["clinics"] if c["name"] == name)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def kill(self) -> None:
        """SIGKILL: no shutdown, nothing flushed."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)


def relay_state(node: Any) -> str | None:
    """The state of a node's relay link as its sync status shows it (None: no relay)."""
    relay = node.sync_status().get("relay")
    return relay.get("state") if isinstance(relay, dict) else None


def audit_of(node: Any, action: str) -> list[Any]:
    """A running node's audit rows of `action`, read from its store (WAL: readers don't block)."""
    import asyncio

    from meshd import identity
    from meshd.store.sqlcipher import SqlCipherStore

    async def read() -> list[Any]:
        async with SqlCipherStore(node.data.store_path, identity.load_store_key(node.data),
                                  create=False) as store:
            return [row for row in await store.audit_events(limit=1000)
                    if row.action == action]

    return asyncio.run(read())


def texts(value: Any) -> list[str]:
    """Every string inside a JSON value (a chart's, a database row's)."""
    if isinstance(value, dict):
        return [t for v in value.values() for t in texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in texts(v)]
    return [value] if isinstance(value, str) else []
