"""A throwaway PostgreSQL server for the tests and the latency measurement: Debian's
binaries (``apt-get install -y postgresql``), a data folder under /tmp, a free loopback
port, run as the ``postgres`` user when we are root (the server refuses root), with a
password-authenticated role for the app, and thrown away with its data at the end."""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import psycopg

BINARIES = "/usr/lib/postgresql/*/bin"
INSTALL_HINT = ("PostgreSQL's server binaries (initdb, pg_ctl) are not installed: the feedback store's "
                "PostgreSQL tests need them. Install them with: apt-get install -y postgresql")
APP_USER = "mnist"


def postgres_bin() -> Path | None:
    """The newest installed server's bin folder (``/usr/lib/postgresql/<version>/bin``), or None."""
    folders = [Path(f) for f in glob.glob(BINARIES) if (Path(f) / "initdb").exists()]
    return max(folders, key=lambda f: int(f.parent.name), default=None) if folders else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    """A running server: ``url(database)`` for the app's role, ``create_database()`` for a
    fresh one, ``restart()``. admin_password: the superuser ``admin``'s. durable: whether
    a commit waits for the disk, as on a real server (slower), or not."""

    bin: Path
    root: Path
    port: int
    password: str
    admin_password: str
    durable: bool = False
    _names: Iterator[int] = field(default_factory=itertools.count)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str, user: str = APP_USER, password: str | None = None) -> str:
        password = self.password if password is None else password
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection:
        """A superuser connection in autocommit mode (close it, or use it in ``with``)."""
        return psycopg.connect(self.url("postgres", "admin", self.admin_password), autocommit=True)

    def create_database(self) -> str:
        """A new, empty database owned by the app's role; returns its URL."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        with self.admin() as admin:
            admin.execute(f"CREATE DATABASE {name} OWNER {APP_USER}")
        return self.url(name)

    def run(self, *command: str) -> subprocess.CompletedProcess:
        """A server program as the user owning the data folder."""
        as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*as_owner, *command], capture_output=True, text=True, timeout=60)

    def pg_ctl(self, *arguments: str) -> None:
        result = self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
                          "-w", "-t", "30", *arguments)
        if result.returncode != 0:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise RuntimeError(f"pg_ctl {' '.join(arguments)} failed: {result.stderr}{result.stdout}{log[-2000:]}")

    def start(self) -> None:
        options = [f"-c port={self.port}", "-c listen_addresses=127.0.0.1",
                   f"-c unix_socket_directories={self.root}"]
        if not self.durable:  # a throwaway server needs no crash safety, and is faster without
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        self.pg_ctl("-o", " ".join(options), "start")

    def restart(self) -> None:
        self.pg_ctl("-m", "fast", "restart")

    def stop(self) -> None:
        self.pg_ctl("-m", "immediate", "stop")


@contextlib.contextmanager
def throwaway_postgres(durable: bool = False) -> Iterator[PostgresServer]:
    """A new server for the length of the ``with`` (``durable``: see PostgresServer);
    RuntimeError(INSTALL_HINT) without the binaries."""
    bin_folder = postgres_bin()
    if bin_folder is None:
        raise RuntimeError(INSTALL_HINT)
    root = Path(tempfile.mkdtemp(prefix="mnist-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    server = PostgresServer(bin_folder, root, free_port(), secrets.token_hex(12), secrets.token_hex(12),
                            durable)
    try:
        (root / "password").write_text(server.admin_password + "\n")
        if os.geteuid() == 0:
            shutil.chown(root / "password", "postgres", "postgres")
        result = server.run(str(bin_folder / "initdb"), "-D", str(server.data), "-U", "admin",
                            f"--pwfile={root / 'password'}", "--auth=scram-sha-256", "--encoding=UTF8",
                            "--no-locale", "--no-sync")
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr}{result.stdout}")
        server.start()
        try:
            with server.admin() as admin:
                admin.execute(f"CREATE ROLE {APP_USER} LOGIN PASSWORD '{server.password}'")
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
