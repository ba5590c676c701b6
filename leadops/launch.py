"""`make run`: prepare the database and start web, one Celery worker and Celery beat together.

Without DATABASE_URL the embedded PostgreSQL under var/ is started (and stopped again when this
exits); without CELERY_BROKER_URL the broker is a table-based transport on that same server.
Ctrl-C (SIGINT) or SIGTERM stops every process this started. If any of them dies, the rest are
stopped too and the exit code is non-zero, so a broken start never looks like a running system.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from types import FrameType

from leadops import embedded
from leadops.demo import demo_logins_text

STOP_GRACE_SECONDS = 15


def _log(message: str) -> None:
    print(f"[make run] {message}", flush=True)


def web_command(host: str, port: str) -> list[str]:
    """gunicorn as `make run` starts it (bench/ingest_single.py starts the same)."""
    return [
        "gunicorn",
        "leadops.wsgi",
        "--bind",
        f"{host}:{port}",
        "--workers",
        "2",
        "--threads",
        "4",
        "--access-logfile",
        "-",
        "--graceful-timeout",
        "10",
    ]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "leadops.settings.base")
    # A workstation run keeps generated secrets under var/ instead of demanding them.
    env.setdefault("LEADOPS_LOCAL_SECRETS", "true")
    if not env.get("DATABASE_URL"):
        _log("DATABASE_URL is unset: starting the embedded PostgreSQL under var/pg")
        env["DATABASE_URL"] = embedded.database_url()
    if not env.get("CELERY_BROKER_URL"):
        env["CELERY_BROKER_URL"] = embedded.broker_url()
        _log("CELERY_BROKER_URL is unset: using the embedded database as the broker")
    return env


VERIFIER_KEY_PREFIX = "verifier key: "


def _prepare(env: dict[str, str]) -> str:
    """db_bootstrap, migrate, collectstatic and seed_demo in one `manage.py prepare` process
    (Django starts once); its output is passed through; returns the audit verifier key."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "prepare", "--demo", "--print-verifier-key"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    key = ""
    for line in process.stdout:
        if line.startswith(VERIFIER_KEY_PREFIX):
            key = line.removeprefix(VERIFIER_KEY_PREFIX).strip()
        else:
            _log(line.rstrip())
    if process.wait() != 0:
        raise subprocess.CalledProcessError(process.returncode, process.args)
    _log(f"database ready in {time.monotonic() - started:.1f}s")
    return key


def _wait_healthy(url: str, children: dict[str, subprocess.Popen[bytes]], limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children.values()):
            return False
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


def _stop(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for name, child in children.items():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _log(f"{name} did not stop in {STOP_GRACE_SECONDS}s: killing it")
            child.kill()
            child.wait()


def main() -> int:
    started = time.monotonic()
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    env = _environment()
    try:
        audit_key = _prepare(env)
    except subprocess.CalledProcessError as exc:
        _log(f"setup failed: {' '.join(map(str, exc.cmd))} exited {exc.returncode}")
        return 1

    # Children get their own sessions so one Ctrl-C reaches only this process, which then stops
    # them in order instead of racing them.
    commands = {
        "web": web_command(host, port),
        "worker": [
            "celery",
            "-A",
            "leadops",
            "worker",
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
            "--hostname",
            "worker@%h",
        ],
        "beat": ["celery", "-A", "leadops", "beat", "--loglevel", "INFO"],
    }
    bin_dir = os.path.dirname(sys.executable)
    children = {
        name: subprocess.Popen(
            [os.path.join(bin_dir, argv[0]), *argv[1:]], env=env, start_new_session=True
        )
        for name, argv in commands.items()
    }

    stopping = False

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    base = f"http://{host}:{port}"
    if not _wait_healthy(f"{base}/healthz", children, limit=60):
        _log("LeadOps did not become healthy; stopping everything")
        _stop(children)
        return 1

    _log(f"LeadOps is up in {time.monotonic() - started:.1f}s (web, worker and beat running)")
    print(
        f"\n  Admin:     {base}/admin/\n"
        f"  API docs:  {base}/api/docs/\n"
        f"  Health:    {base}/healthz\n\n"
        + "\n".join(f"  {line}" for line in demo_logins_text().splitlines())
        + f"\n\n  Audit checkpoints are signed with (verifier key):\n    {audit_key}"
        + "\n\n  Press Ctrl-C to stop web, worker, beat and the embedded database.\n",
        flush=True,
    )

    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                _log(f"{name} exited with code {child.returncode}; stopping the rest")
                exit_code = 1
                stopping = True
                break
        time.sleep(0.5)
    _log("stopping web, worker and beat")
    _stop(children)
    _log("stopped")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
