"""What the benchmarks that run gunicorn share: a production-like environment, the
server's start and stop, a browser-like HTTP client, the CPU the server used.

Not a benchmark itself; ``bench_submit.py`` and ``bench_server.py`` import it. Everything
talks to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import date, datetime
from http import client as http_client
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from tests.patient_client import TOKEN_RE

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
#: Seconds any one request may take before the client gives up on it.
TIMEOUT = 30
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def production_env(url: str, folder: str | Path, **extra: str) -> dict[str, str]:
    """The environment of a production run on database ``url``, as the README deploys it.

    A fresh ``SECRET_KEY`` and audit key, data keys in a 0600 key file written in
    ``folder`` (the README's ``instance/keys.json``, elsewhere), no proxy in front (the
    clients reach gunicorn directly). ``extra`` is added last.
    """
    from screening.crypto import new_keyring, write_key_file

    keys = Path(folder) / "keys.json"
    if not keys.exists():
        write_key_file(str(keys), new_keyring(), replace=False)
    env = {
        **os.environ,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": url,
        "SCREENING_ENVIRONMENT": "production",
        "SCREENING_DATA_KEYS_FILE": str(keys),
        "SCREENING_AUDIT_HMAC_KEY": secrets.token_urlsafe(48),
        # The clients reach gunicorn directly: no proxy in front.
        "SCREENING_TRUSTED_PROXY_COUNT": "0",
        **extra,
    }
    for name in ("SCREENING_SQLALCHEMY_DATABASE_URI", "SCREENING_DATA_KEYS"):
        env.pop(name, None)
    return env


def flask_command(env: dict[str, str], *args: str) -> str:
    """Run ``flask --app screening ARGS`` in ``env``; return its output (raise on failure)."""
    done = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "screening", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def clinic_today() -> date:
    """Today on the default clinic's calendar (ages on the form are counted on it)."""
    return datetime.now(ZoneInfo("America/New_York")).date()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_listening(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start listening in time")


def stop(process: subprocess.Popen) -> None:
    """Stop gunicorn: SIGTERM (graceful, workers included), then SIGKILL if it hangs."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
        return
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    if getattr(process, "own_group", False):
        # Its workers too: the group start_gunicorn made for this master alone.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def start_gunicorn(
    app: str,
    env: dict[str, str],
    log_path: Path,
    *,
    workers: int = 2,
    chdir: Path = ROOT,
    port: int | None = None,
) -> tuple[subprocess.Popen, int]:
    """Start gunicorn with sync workers on 127.0.0.1 in a process group of its own.

    :return: the master process (its pid is the group's id) and the port.
    """
    port = port or free_port()
    log = log_path.open("wb")
    try:
        process = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--bind",
                f"127.0.0.1:{port}",
                "--no-control-socket",
                "--timeout",
                "60",
                "--chdir",
                str(chdir),
                app,
            ],
            cwd=chdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()  # the child holds its own copy
    process.own_group = True  # type: ignore[attr-defined]
    try:
        wait_until_listening(port, process)
    except BaseException:
        stop(process)
        raise
    return process, port


def group_processes(group: int) -> dict[int, float]:
    """CPU seconds (user + system, with reaped children) of each process in ``group``."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as handle:
                text = handle.read()
        except OSError:  # gone meanwhile
            continue
        # The command name may hold spaces and parentheses: the fields follow the last ")".
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[2]) != group:
            continue
        utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
        found[int(name)] = (utime + stime + cutime + cstime) / CLOCK_TICKS
    return found


def group_cpu_seconds(group: int) -> float:
    """CPU seconds the gunicorn master and its workers have used so far, all together.

    A worker that died and was reaped moves its time into the master's children's time,
    so the total never goes back.
    """
    return sum(group_processes(group).values())


def machine_cpu() -> tuple[int, int]:
    """(busy, total) clock ticks of every core since boot, from /proc/stat."""
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    total = sum(fields[:8])  # guest time is already inside user time
    return total - idle, total


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


class Browser:
    """One person's browser: its own cookies, a fresh connection when gunicorn closes it.

    :param read_token: look for a CSRF token in every page (off while measuring: the
        token stays valid, and the search would cost the client time).
    """

    def __init__(self, port: int, read_token: bool = True) -> None:
        self.conn = http_client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        self.cookies: dict[str, str] = {}
        self.token: str | None = None
        self.read_token = read_token

    def request(self, method: str, path: str, form: dict | None = None):
        headers = {"Host": "127.0.0.1"}
        body = None
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if form is not None:
            body = urlencode({**form, "csrf_token": self.token or ""}, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        if response.getheader("Connection", "").lower() == "close":
            self.conn.close()  # gunicorn's sync workers close each connection
        for header in response.headers.get_all("Set-Cookie") or []:
            # Kept whatever the Secure flag says: a TLS proxy would sit in front.
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        if self.read_token and (match := TOKEN_RE.search(text)):
            self.token = match.group(1) or match.group(2)
        return response.status, response.getheader("Location") or "", text

    def close(self) -> None:
        self.conn.close()


def git_commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "?"


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so ``finally`` blocks stop the servers."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
