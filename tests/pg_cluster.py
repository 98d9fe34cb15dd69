"""A throwaway PostgreSQL cluster for the suite: Debian's server, a temporary folder, loopback.

``python tests/pg_cluster.py start`` (what ``.ci/run`` calls) creates and starts
one and prints ``export`` lines for its URL (``OTEL_OBS_TEST_PG_URL``) and its
folder; ``python tests/pg_cluster.py stop FOLDER`` stops it and removes the
folder. The suite's ``pg_url`` fixture uses ``OTEL_OBS_TEST_PG_URL`` when set,
else starts a cluster of its own for the session.

``initdb`` and ``pg_ctl`` refuse to run as root: as root they run as the
``postgres`` user (``runuser``) on a folder it owns. The cluster has C
collation (text orders as in SQLite), listens on 127.0.0.1 only, on a free
port, and asks for a password (scram-sha-256) so wrong passwords can be tested.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

USER = "otel_obs_admin"
PASSWORD = "test-only-password"
URL_ENV = "OTEL_OBS_TEST_PG_URL"


class ClusterUnavailable(RuntimeError):
    """The server cannot be started here (its reason is the message)."""


@dataclass
class Cluster:
    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/postgres"


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise ClusterUnavailable(f"PostgreSQL's {name} not found (install Debian's postgresql package)")


def _as_owner(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ClusterUnavailable("running as root and there is no postgres user") from None
    return ["runuser", "-u", "postgres", "--", *argv]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise ClusterUnavailable(f"{' '.join(argv)} failed: {done.stderr.strip()[-500:]}")


def start() -> Cluster:
    """Create and start a cluster; raises :class:`ClusterUnavailable` saying why not."""
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    folder = Path(tempfile.mkdtemp(prefix="otel-obs-pg-"))
    folder.chmod(0o755)
    data = folder / "data"
    pwfile = folder / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        os.chown(pwfile, entry.pw_uid, entry.pw_gid)
    _run(
        _as_owner(
            [
                initdb,
                "-D",
                str(data),
                "-U",
                USER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--locale=C",
                "--encoding=UTF8",
                "--no-sync",
            ]
        )
    )
    port = _free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={folder}"
        " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        " -c max_connections=300 -c jit=off"
    )
    _run(
        _as_owner(
            [pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"]
        )
    )
    return Cluster(folder, port)


def stop(folder: Path) -> None:
    """Stop the cluster in ``folder`` (immediately) and remove the folder."""
    data = folder / "data"
    if (data / "postmaster.pid").exists():
        subprocess.run(
            _as_owner([_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=60,
        )
    shutil.rmtree(folder, ignore_errors=True)


def restart(folder: Path) -> None:
    """Restart the cluster in ``folder`` (fast shutdown: connections are cut)."""
    data, log = str(folder / "data"), str(folder / "log")
    _run(_as_owner([_bin("pg_ctl"), "-D", data, "-l", log, "-m", "fast", "-w", "restart"]))


def main(argv: list[str]) -> int:
    if argv[:1] == ["start"]:
        try:
            cluster = start()
        except ClusterUnavailable as exc:
            print(f"echo {str(exc)!r} >&2; false")
            return 1
        print(f"export {URL_ENV}='{cluster.url}'")
        print(f"export OTEL_OBS_TEST_PG_FOLDER='{cluster.folder}'")
        return 0
    if argv[:1] == ["stop"] and len(argv) == 2:
        stop(Path(argv[1]))
        return 0
    print("usage: pg_cluster.py start | stop FOLDER", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
