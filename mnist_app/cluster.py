"""Several app servers behind one address, on one PostgreSQL: ``make cluster``.

    python -m mnist_app.cluster start [--replicas 2] [--port 8500]   (make cluster REPLICAS=2)
    python -m mnist_app.cluster stop                                 (make cluster-stop)
    python -m mnist_app.cluster status
    python -m mnist_app.cluster database-url                         (the replicas' MNIST_FEEDBACK_DB)

Everything on loopback, everything under ``.cluster/`` (git-ignored): a PostgreSQL
server (Debian's package, its own data folder and port, a password made up on the
first start), ``replicas`` ``streamlit run app.py`` processes storing answers in it, and
HAProxy in front: one address for the browser, websockets passed through, each browser
kept on its replica by a cookie (a Streamlit session, its uploads and its images live in
one process), health-checked every 2 s so a replica that dies is out within ~4 s and its
users reconnect to another (their profile is in the address, their digits in the
database). All replicas share one cookie secret, so a browser's XSRF cookie is good on
any of them.

The same shape on real machines: docs/deploy.md.
"""

from __future__ import annotations

import argparse
import glob
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from mnist_app import PROJECT_ROOT

CLUSTER_DIR = PROJECT_ROOT / ".cluster"
PROXY_PORT = 8500
DATABASE_PORT = 8532
FIRST_REPLICA_PORT = 8511
START_TIMEOUT_S = 120
DATABASE_USER = DATABASE_NAME = "mnist"
POSTGRES_USER = "postgres"  # PostgreSQL refuses to run as root: as root, run it as this user


class ClusterError(RuntimeError):
    """Something the cluster needs is missing or would not start; the message says what."""


@dataclass(frozen=True)
class Cluster:
    """Where a cluster's parts live: its folder, the proxy's and the database's ports."""

    folder: Path = CLUSTER_DIR
    proxy_port: int = PROXY_PORT
    database_port: int = DATABASE_PORT
    first_replica_port: int = FIRST_REPLICA_PORT

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def data_dir(self) -> Path:
        return self.folder / "postgres"

    def database_url(self) -> str:
        """The replicas' ``MNIST_FEEDBACK_DB``: postgresql://mnist:<password>@127.0.0.1:<port>/mnist."""
        try:
            password = (self.folder / "database-password").read_text().strip()
        except FileNotFoundError:
            raise ClusterError(f"no cluster was started in {self.folder}: make cluster") from None
        return f"postgresql://{DATABASE_USER}:{password}@127.0.0.1:{self.database_port}/{DATABASE_NAME}"

    def replica_port(self, index: int) -> int:
        return self.first_replica_port + index

    def replica_rss_mb(self, index: int) -> float | None:
        """Resident memory of a running replica's server process, MB (None: not running)."""
        try:
            pid = int((self.folder / f"replica-{index}.pid").read_text())
            status = Path(f"/proc/{pid}/status").read_text()
        except (FileNotFoundError, ValueError):
            return None
        kb = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(kb) / 1024

    def replicas(self) -> list[int]:
        """The indexes of the replicas started (by their pid files)."""
        return sorted(int(p.stem.split("-")[1]) for p in self.folder.glob("replica-*.pid"))


# --- PostgreSQL -------------------------------------------------------------------------
def _postgres_bin(program: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{program}"))
    if found:
        return found[-1]
    if shutil.which(program):
        return shutil.which(program)
    raise ClusterError(f"PostgreSQL's {program} is not installed: apt-get install -y postgresql")


def _as_postgres_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", POSTGRES_USER, "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise ClusterError(f"{what} failed: {(result.stderr or result.stdout).strip()[-1500:]}")


def start_database(cluster: Cluster) -> None:
    """Initialise (first time: a password-protected role and database) and start PostgreSQL."""
    cluster.folder.mkdir(parents=True, exist_ok=True)
    password_file = cluster.folder / "database-password"
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(18) + "\n")
        password_file.chmod(0o600)
    if os.geteuid() == 0:
        shutil.chown(cluster.folder, POSTGRES_USER)  # the server writes its socket and log here
    if not (cluster.data_dir / "PG_VERSION").exists():
        password_copy = cluster.folder / "initdb-password"
        password_copy.write_text(password_file.read_text())
        if os.geteuid() == 0:
            shutil.chown(password_copy, POSTGRES_USER)
        try:
            _run(_as_postgres_user([_postgres_bin("initdb"), "-D", str(cluster.data_dir), "-U", DATABASE_USER,
                                    "--auth=scram-sha-256", f"--pwfile={password_copy}", "-E", "UTF8"]),
                 "initdb")
        finally:
            password_copy.unlink()
    if database_running(cluster):
        return
    options = (f"-p {cluster.database_port} -c listen_addresses=127.0.0.1 -k {cluster.folder} "
               "-c max_connections=100 -c shared_buffers=64MB")
    _run(_as_postgres_user([_postgres_bin("pg_ctl"), "-D", str(cluster.data_dir), "-o", options,
                            "-l", str(cluster.folder / "postgres.log"), "-w", "-t", "60", "start"]),
         "starting PostgreSQL")
    environment = {**os.environ, "PGPASSWORD": password_file.read_text().strip()}
    exists = subprocess.run([_postgres_bin("psql"), "-h", "127.0.0.1", "-p", str(cluster.database_port),
                             "-U", DATABASE_USER, "-d", "postgres", "-tAc",
                             f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'"],
                            capture_output=True, text=True, env=environment)
    if exists.stdout.strip() != "1":
        result = subprocess.run([_postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(cluster.database_port),
                                 "-U", DATABASE_USER, DATABASE_NAME], capture_output=True, text=True, env=environment)
        if result.returncode != 0:
            raise ClusterError(f"creating the database failed: {result.stderr.strip()}")


def database_running(cluster: Cluster) -> bool:
    if not (cluster.data_dir / "PG_VERSION").exists():
        return False
    status = subprocess.run(_as_postgres_user([_postgres_bin("pg_ctl"), "-D", str(cluster.data_dir), "status"]),
                            capture_output=True, text=True)
    return status.returncode == 0


def stop_database(cluster: Cluster, mode: str = "fast") -> None:
    if database_running(cluster):
        _run(_as_postgres_user([_postgres_bin("pg_ctl"), "-D", str(cluster.data_dir), "-m", mode, "-w", "stop"]),
             "stopping PostgreSQL")


# --- app replicas -------------------------------------------------------------------------
def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _pid_alive(pid_file: Path) -> int | None:
    """The pid in ``pid_file`` if that process runs (not exited, not a zombie), else None."""
    try:
        pid = int(pid_file.read_text())
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ValueError, IndexError):
        return None
    return None if state in ("Z", "X") else pid


def start_replica(cluster: Cluster, index: int, env: dict[str, str] | None = None) -> int:
    """One ``streamlit run app.py`` on its port, storing in the cluster's database; its pid."""
    pid_file = cluster.folder / f"replica-{index}.pid"
    if _pid_alive(pid_file):
        return int(pid_file.read_text())
    secret_file = cluster.folder / "cookie-secret"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(32) + "\n")
        secret_file.chmod(0o600)
    port = cluster.replica_port(index)
    log = open(cluster.folder / f"replica-{index}.log", "a")
    process = subprocess.Popen(
        [sys.executable, "-m", "mnist_app.ui.serve", "--server.headless", "true",  # streamlit run app.py
         "--browser.gatherUsageStats", "false", "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.fileWatcherType", "none"],
        cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "MNIST_FEEDBACK_DB": cluster.database_url(), "MALLOC_ARENA_MAX": "2",
             "STREAMLIT_SERVER_COOKIE_SECRET": secret_file.read_text().strip(),
             "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", **(env or {})})
    pid_file.write_text(str(process.pid))
    return process.pid


def wait_healthy(url: str, what: str, timeout_s: float = START_TIMEOUT_S, pid_file: Path | None = None) -> None:
    """Until ``url`` answers 200; ClusterError after ``timeout_s`` or when the process
    of ``pid_file`` has exited (its log says why)."""
    deadline = time.monotonic() + timeout_s
    while not _healthy(url):
        if pid_file is not None and _pid_alive(pid_file) is None:
            raise ClusterError(f"{what} exited while starting: see {pid_file.with_suffix('.log')}")
        if time.monotonic() > deadline:
            raise ClusterError(f"{what} not healthy at {url} after {timeout_s:.0f} s")
        time.sleep(0.5)  # polling interval of a bounded wait


def kill_replica(cluster: Cluster, index: int, sig: int = signal.SIGKILL) -> None:
    """End one replica (SIGKILL by default: as a crash would) and its process group."""
    pid_file = cluster.folder / f"replica-{index}.pid"
    pid = _pid_alive(pid_file)
    if pid is not None:
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 20
        while _pid_alive(pid_file) is not None and time.monotonic() < deadline:
            time.sleep(0.1)  # until it has exited: its port and memory are free again
    pid_file.unlink(missing_ok=True)


# --- the proxy ------------------------------------------------------------------------------
def haproxy_config(cluster: Cluster, replicas: int) -> str:
    """HAProxy's configuration: sticky by cookie, websockets, health checks, redispatch."""
    servers = "\n".join(
        f"    server r{i} 127.0.0.1:{cluster.replica_port(i)} check cookie r{i} inter 2s fall 2 rise 2"
        for i in range(replicas))
    return f"""global
    maxconn 4096
    pidfile {cluster.folder / 'haproxy.pid'}

defaults
    mode http
    option httplog
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    # A Streamlit tab holds one websocket open for as long as it is open.
    timeout tunnel 1h
    # A browser whose replica is gone is sent to another, not refused.
    option redispatch
    retries 2

frontend app
    bind 127.0.0.1:{cluster.proxy_port}
    default_backend replicas

backend replicas
    balance leastconn
    option httpchk GET /_stcore/health
    http-check expect status 200
    # Each browser stays on the replica that holds its Streamlit session.
    cookie MNIST_REPLICA insert indirect nocache httponly
{servers}
"""


def start_proxy(cluster: Cluster, replicas: int) -> None:
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(haproxy).exists():
        raise ClusterError("HAProxy is not installed: apt-get install -y haproxy")
    config = cluster.folder / "haproxy.cfg"
    config.write_text(haproxy_config(cluster, replicas))
    pid_file = cluster.folder / "haproxy.pid"
    if _pid_alive(pid_file):
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
        time.sleep(0.5)  # let it release the port before the new one binds
    _run([haproxy, "-D", "-f", str(config)], "starting HAProxy")


def start(cluster: Cluster, replicas: int) -> None:
    """Database, ``replicas`` app servers, the proxy; returns when all are healthy."""
    if replicas < 1:
        raise ClusterError("a cluster needs at least one replica")
    start_database(cluster)
    for index in range(replicas):
        start_replica(cluster, index)
    for index in range(replicas):
        wait_healthy(f"http://127.0.0.1:{cluster.replica_port(index)}/_stcore/health", f"replica {index}",
                     pid_file=cluster.folder / f"replica-{index}.pid")
    start_proxy(cluster, replicas)
    wait_healthy(f"{cluster.url}/_stcore/health", "the proxy", timeout_s=30)


def stop(cluster: Cluster) -> None:
    """Proxy, replicas, database: everything the cluster started."""
    pid = _pid_alive(cluster.folder / "haproxy.pid")
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
    for index in cluster.replicas():
        kill_replica(cluster, index, signal.SIGTERM)
    stop_database(cluster)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mnist_app.cluster", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status", "database-url"])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--port", type=int, default=PROXY_PORT, help="the proxy's port (the address to open)")
    args = parser.parse_args(argv)
    cluster = Cluster(proxy_port=args.port)
    try:
        if args.action == "start":
            start(cluster, args.replicas)
            print(f"{args.replicas} replicas behind {cluster.url} (HAProxy), answers in PostgreSQL on "
                  f"127.0.0.1:{cluster.database_port}; logs in {cluster.folder}; stop with: make cluster-stop")
        elif args.action == "database-url":
            print(cluster.database_url())
        elif args.action == "stop":
            stop(cluster)
            print("cluster stopped")
        else:
            for index in cluster.replicas():
                url = f"http://127.0.0.1:{cluster.replica_port(index)}/_stcore/health"
                print(f"replica {index}: {'healthy' if _healthy(url) else 'down'} ({url})")
            print(f"database: {'running' if database_running(cluster) else 'stopped'}; "
                  f"proxy: {'healthy' if _healthy(cluster.url + '/_stcore/health') else 'down'} ({cluster.url})")
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
