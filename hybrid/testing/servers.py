"""Real servers for tests and benchmarks: Redis and Celery workers on free loopback ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from hybrid.errors import HybridError

REPO = Path(__file__).resolve().parents[2]


class ServerMissing(HybridError):
    """The server program is not installed."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_group(proc: subprocess.Popen[bytes] | None, timeout: float = 20) -> None:
    """SIGTERM to a process started with its own session and its children; SIGKILL if
    they are not gone within `timeout` seconds."""
    if proc and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class RedisServer:
    """redis-server on 127.0.0.1:port with an append-only file, restartable in place."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerMissing("redis-server is not installed (make test installs it: "
                                "apt-get install redis-server)")
        self.binary, self.dir, self.port = binary, workdir, free_port()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class CeleryWorker:
    """`celery -A workers.app worker` on every queue, in its own process group."""

    def __init__(self, redis_url: str, log: Path, concurrency: int = 2,
                 queues: str = "text,image,audio") -> None:
        self.redis_url, self.log, self.concurrency = redis_url, log, concurrency
        self.queues = queues
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        return {**os.environ, "REDIS_URL": self.redis_url, "HYBRID_VISIBILITY_TIMEOUT": "10",
                "HYBRID_RESTORE_INTERVAL": "1", "HF_HUB_OFFLINE": "1",
                "PYTHONPATH": str(REPO)}

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-Q",
             self.queues, "-c", str(self.concurrency), "--loglevel=INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=REPO, env=self.env(), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if b" ready." in self.log.read_bytes():
                return
            if self.proc.poll() is not None:
                raise RuntimeError("celery worker exited:\n" + self.log.read_text()[-3000:])
            time.sleep(0.2)
        raise RuntimeError("celery worker did not get ready:\n" + self.log.read_text()[-3000:])

    def kill(self) -> None:
        """SIGKILL to the worker and its pool processes at once."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        stop_group(self.proc)


class ApiServer:
    """`hybrid serve` on a free port, in its own process group; `start` returns when
    /readyz answers 200 from every worker it asked (each loads its encoders)."""

    def __init__(self, index: Path, log: Path, *, workers: int = 2, api_key: str | None = None,
                 env: dict[str, str] | None = None, warm: bool = True) -> None:
        self.index, self.log, self.workers, self.warm = index, log, workers, warm
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra = {"HF_HUB_OFFLINE": "1", **(env or {})}
        if api_key:
            self.extra["HYBRID_API_KEY"] = api_key
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 180) -> None:
        import requests

        out = self.log.open("ab")
        args = [sys.executable, "-m", "hybrid.cli.main", "--index", str(self.index), "serve",
                "--port", str(self.port), "--workers", str(self.workers)]
        self.proc = subprocess.Popen(args + ([] if self.warm else ["--no-warm"]), cwd=REPO,
                                     env={**os.environ, **self.extra}, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline, ready = time.monotonic() + timeout, 0
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("hybrid serve exited:\n" + self.log.read_text()[-3000:])
            try:
                ok = requests.get(f"{self.url}/readyz", timeout=5).status_code == 200
            except requests.RequestException:
                ok = False
            ready = ready + 1 if ok else 0
            if ready >= 4 * self.workers:  # answered by every worker, most likely
                return
            time.sleep(0.1 if ok else 0.5)
        self.stop()
        raise RuntimeError("hybrid serve did not get ready:\n" + self.log.read_text()[-3000:])

    def stop(self) -> None:
        stop_group(self.proc)
