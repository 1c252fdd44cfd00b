"""A throwaway multi-node Ray cluster on 127.0.0.1, for tests and benchmarks.

A head with no CPUs (as a cluster's head usually is) and worker nodes started by ``ray
start``, each with its own ports and the cluster's own ``--temp-dir``, so it never touches
another Ray on the machine. As root, a worker node can run in its own mount namespace with
private tmpfs mounts over given paths (``unshare -m``): what the node writes there stays
invisible to the driver, and files there are unreadable to it, as on a separate machine.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

#: ports each node needs besides the worker-port range
_NODE_PORTS = 7
_WORKER_PORTS = 60


def can_isolate() -> str | None:
    """None when worker nodes can get private mounts, else why not."""
    if os.geteuid() != 0:
        return "not root: worker nodes cannot get a private mount namespace (unshare -m)"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) not installed"
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"unshare -m not permitted here: {probe.stderr.strip()}"
    return None


def _free_port_block(n: int) -> int:
    """First port of ``n`` consecutive ports that are free now (best effort)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n >= 65000:
            continue
        ok = True
        for p in range(base, base + n):
            with socket.socket() as t:
                try:
                    t.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no block of free ports found")


@dataclass
class LoopbackCluster:
    """Head plus worker nodes; use as a context manager (always stops what it started)."""

    env: dict[str, str] = field(default_factory=dict)
    temp_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ssray-", dir="/tmp")))
    address: str = ""
    worker_ips: list[str] = field(default_factory=list)

    def _ray(self) -> str:
        return str(Path(sys.executable).with_name("ray"))

    def _ports(self) -> list[str]:
        base = _free_port_block(_NODE_PORTS + _WORKER_PORTS)
        args = [
            f"--node-manager-port={base}",
            f"--object-manager-port={base + 1}",
            f"--dashboard-agent-listen-port={base + 2}",
            f"--dashboard-agent-grpc-port={base + 3}",
            f"--runtime-env-agent-port={base + 4}",
            f"--metrics-export-port={base + 5}",
            f"--min-worker-port={base + _NODE_PORTS}",
            f"--max-worker-port={base + _NODE_PORTS + _WORKER_PORTS - 1}",
        ]
        return args

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", **self.env})
        env["SCREENSTATE_LOOPBACK_CLUSTER"] = str(self.temp_dir)  # every process inherits it: stop() finds them
        env.pop("RAY_ADDRESS", None)
        return env

    def start_head(self) -> str:
        port = _free_port_block(1)
        cmd = [
            self._ray(),
            "start",
            "--head",
            "--num-cpus=0",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={self.temp_dir}",
            *self._ports(),
        ]
        _run(cmd, self._env())
        self.address = f"127.0.0.1:{port}"
        return self.address

    def add_worker(self, num_cpus: int, private: list[Path] | None = None, ip: str = "127.0.0.1") -> None:
        """Start a worker node; ``private`` paths get a tmpfs only this node sees (root only)."""
        ray_cmd = [
            self._ray(),
            "start",
            f"--address={self.address}",
            f"--num-cpus={num_cpus}",
            f"--node-ip-address={ip}",
            "--disable-usage-stats",
            f"--temp-dir={self.temp_dir}",
            *self._ports(),
        ]
        if private:
            mounts = " && ".join(f"mount -t tmpfs -o size=64m screenstate-private {_q(p)}" for p in private)
            cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", f"{mounts} && exec {_join(ray_cmd)}"]
        else:
            cmd = ray_cmd
        _run(cmd, self._env())
        self.worker_ips.append(ip)
        self.wait_for_nodes(1 + len(self.worker_ips))

    def wait_for_nodes(self, n: int, timeout: float = 60) -> None:
        import ray

        deadline = time.monotonic() + timeout
        script = (
            "import ray,sys;ray.init(address=sys.argv[1],log_to_driver=False);"
            "print(sum(1 for x in ray.nodes() if x['Alive']))"
        )
        while time.monotonic() < deadline:
            if ray.is_initialized():
                alive = sum(1 for x in ray.nodes() if x["Alive"])
            else:
                out = subprocess.run(
                    [sys.executable, "-c", script, self.address], capture_output=True, text=True, env=self._env()
                )
                alive = int(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 and out.stdout.strip() else 0
            if alive >= n:
                return
            time.sleep(0.5)
        raise RuntimeError(f"Ray cluster at {self.address}: {n} nodes did not come up in {timeout:.0f} s")

    def stop(self) -> None:
        """Stop every process of this cluster (and only of this cluster), then remove its temp dir."""
        pids = _pids_under(self.temp_dir)
        for sig in (15, 9):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 10
            while sig == 15 and time.monotonic() < deadline and any(_alive(p) for p in pids):
                time.sleep(0.2)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> LoopbackCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _run(cmd: list[str], env: dict[str, str]) -> None:
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180)
    if out.returncode != 0:
        raise RuntimeError(f"{_join(cmd)} failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")


def _q(p: Path | str) -> str:
    import shlex

    return shlex.quote(str(p))


def _join(cmd: list[str]) -> str:
    return " ".join(_q(c) for c in cmd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _pids_under(temp_dir: Path) -> list[int]:
    """Processes of the cluster: their command line or environment names its temp dir
    (``ray stop`` would stop every Ray on the machine, other people's included)."""
    mark = str(temp_dir).encode()
    own = os.getpid()
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == own:
            continue
        try:
            if mark in (d / "cmdline").read_bytes() or mark in (d / "environ").read_bytes():
                pids.append(int(d.name))
        except OSError:
            continue
    return pids
