"""A real `uvicorn` serving this app on a free loopback port, in a process of its own: what the
tests and the benchmarks start to talk to the service over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

APP = "pettriage.api.main:app"
MLFLOW_URIS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """`uvicorn pettriage.api.main:app` on a free loopback port, configured by `env` (the
    variables of `pettriage.config.Settings`) on top of this process's environment."""

    def __init__(self, env: dict[str, str], workers: int = 1, log: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # MLflow puts the tracking URI it was last pointed at into this process's environment
        # (`mlflow.set_tracking_uri`): a server must not inherit another home's registry.
        inherited = {k: v for k, v in os.environ.items() if k not in MLFLOW_URIS}
        self.env = inherited | env
        self.workers = workers
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> LiveServer:
        out = self.log.open("ab") if self.log else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                APP,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            env=self.env,
            stdout=out,
            stderr=out,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()  # not left running behind a failed start
        raise RuntimeError("server did not become ready")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
