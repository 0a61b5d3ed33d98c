"""A private PostgreSQL cluster on loopback for the deployment test: a real server, not a mock.

Uses the server binaries of Debian's ``postgresql`` package (``initdb``, ``pg_ctl``; found on
``PATH`` or under ``/usr/lib/postgresql/*/bin``). Postgres refuses to run as root, so as root the
cluster belongs to the ``postgres`` OS user the package creates and is started with ``runuser``.
The cluster lives in a temporary folder, listens on 127.0.0.1 only, on a free port, with password
authentication over TCP; ``stop()`` shuts it down and removes the folder.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found: "
    "apt-get install -y postgresql (.ci/run installs it)"
)


def server_bin_dir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None when the server is not installed."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def missing_reason() -> str | None:
    """Why the cluster cannot start here (for ``pytest.skip``), or None when it can."""
    if server_bin_dir() is None:
        return INSTALL_HINT
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a 'postgres' OS user to own the cluster"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresCluster:
    host: str
    port: int
    user: str
    password: str
    db_name: str
    root: Path
    _bin: Path = field(repr=False)
    _as_user: list[str] = field(repr=False)

    def env(self) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_DB": self.db_name,
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
        }

    def stop(self) -> None:
        subprocess.run(
            [*self._as_user, str(self._bin / "pg_ctl"), "stop", "-m", "immediate", "-w"]
            + ["-D", str(self.root / "data")],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(db_name: str = "dagster") -> PostgresCluster:
    """initdb + pg_ctl start in a fresh temporary folder; creates ``db_name``."""
    bin_dir = server_bin_dir()
    if bin_dir is None:
        raise RuntimeError(INSTALL_HINT)
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="acct_pg_"))
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    root.chmod(0o700)
    password = os.urandom(12).hex()
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    if as_user:
        os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
    port = free_port()
    cluster = PostgresCluster(
        host="127.0.0.1",
        port=port,
        user="acct",
        password=password,
        db_name=db_name,
        root=root,
        _bin=bin_dir,
        _as_user=as_user,
    )

    def run(*args: str, timeout: float = 120) -> None:
        done = subprocess.run(
            [*as_user, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            log = root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed: {done.stderr or done.stdout}\n{tail}")

    try:
        run(
            str(bin_dir / "initdb"),
            "-D",
            str(root / "data"),
            "-U",
            cluster.user,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        )
        pwfile.unlink()
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} "
            "-c fsync=off -c synchronous_commit=off -c max_connections=200"
        )
        run(
            str(bin_dir / "pg_ctl"),
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(root / "data"),
            "-l",
            str(root / "server.log"),
            "-o",
            options,
        )
        run(
            str(bin_dir / "psql"),
            "-h",
            str(root),
            "-p",
            str(port),
            "-U",
            cluster.user,
            "-d",
            "postgres",
            "-c",
            f"CREATE DATABASE {db_name}",
        )
    except BaseException:
        cluster.stop()
        raise
    return cluster
