"""Child processes of a benchmark run and the memory they use.

Every server the harness starts is a ``ChildServer``: its own session (Ctrl-C in the terminal
reaches only the harness, which then stops the children in order), a log file, a readiness probe,
and a stop that escalates from SIGTERM to SIGKILL of the process and each of its descendants by
PID. ``ProcessTreeMemory`` samples the summed proportional set size (PSS: shared pages such as
Ray's object store counted once) of a process and all its descendants while a figure runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil

from tests.servers import free_port, wait_until

__all__ = ["ChildServer", "ProcessTreeCpu", "ProcessTreeMemory", "PySpyProfiles", "free_port", "wait_until"]


class ChildServer:
    """A server in a child process, listening on 127.0.0.1:``port``."""

    def __init__(self, name: str, argv: list[str], *, port: int, env: dict, log_dir: Path,
                 ready_path: str, ready_timeout_s: float = 180, cwd: Path | None = None):
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = Path(log_dir) / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_until(lambda: self._ready(ready_path), ready_timeout_s, interval_s=0.25, what=f"{name} ready")
        except TimeoutError as error:
            self.stop()
            raise TimeoutError(f"{error}; its log ends: {self.log_tail()}") from None
        except BaseException:
            self.stop()
            raise

    def _ready(self, path: str) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {self.log_tail()}")
        return httpx.get(self.url + path, timeout=2).status_code == 200

    def log_tail(self, chars: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def descendants(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            return psutil.Process(self.process.pid).children(recursive=True)
        return []

    def stop(self, timeout_s: float = 60) -> None:
        """SIGTERM, wait, then SIGKILL whatever of the tree is left (by PID, never by name)."""
        tree = self.descendants()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        _, alive = psutil.wait_procs(tree, timeout=5)
        for leftover in alive:
            with contextlib.suppress(psutil.Error):
                leftover.kill()
        self._log.close()


class ProcessTreeMemory:
    """Peak growth of the summed PSS of a process tree, sampled in a thread while in a ``with``."""

    def __init__(self, root_pid: int, interval_s: float = 0.1):
        self.root_pid = root_pid
        self.interval_s = interval_s
        self.baseline = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def total_bytes(self) -> int:
        try:
            root = psutil.Process(self.root_pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for process in processes:
            with contextlib.suppress(psutil.Error):
                total += process.memory_full_info().pss
        return total

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak = max(self.peak, self.total_bytes())

    def __enter__(self) -> ProcessTreeMemory:
        self.baseline = self.peak = self.total_bytes()
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, name="memory-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.total_bytes())

    @property
    def growth_bytes(self) -> int:
        return max(0, self.peak - self.baseline)


class ProcessTreeCpu:
    """CPU seconds each role of a process tree spent inside a ``with`` (where the time goes).

    Roles are process titles: Ray names its workers after what they run (``ray::ProxyActor``,
    ``ray::ServeReplica:compox:Api``, ``ray::RecordStore``), other processes by executable.
    """

    def __init__(self, root_pid: int):
        self.root_pid = root_pid
        self.seconds: dict[str, float] = {}
        self._before: dict[int, tuple[str, float]] = {}

    def _snapshot(self) -> dict[int, tuple[str, float]]:
        snapshot = {}
        try:
            root = psutil.Process(self.root_pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return snapshot
        for process in processes:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                snapshot[process.pid] = (_role(process), times.user + times.system)
        return snapshot

    def __enter__(self) -> ProcessTreeCpu:
        self._before = self._snapshot()
        return self

    def __exit__(self, *exc) -> None:
        for pid, (role, used) in self._snapshot().items():
            spent = used - self._before.get(pid, (role, 0.0))[1]
            if spent > 0:
                self.seconds[role] = self.seconds.get(role, 0.0) + spent

    def summary(self, top: int = 5) -> str:
        ranked = sorted(self.seconds.items(), key=lambda item: -item[1])[:top]
        return ", ".join(f"{role} {seconds:.2f} s" for role, seconds in ranked)


class PySpyProfiles:
    """``py-spy record`` on every named Ray worker of a tree while in a ``with`` (``--profile``).

    ``summary()`` names, per role, the functions of compox_ray found in the most samples
    (inclusive): where a slow figure spends its time, without reading flame graphs.
    """

    def __init__(self, root_pid: int, out_dir: Path, rate_hz: int = 100):
        self.root_pid = root_pid
        self.out_dir = Path(out_dir)
        self.rate_hz = rate_hz
        self.recorders: list[tuple[str, Path, subprocess.Popen]] = []

    def __enter__(self) -> PySpyProfiles:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        py_spy = str(Path(sys.executable).with_name("py-spy"))
        with contextlib.suppress(psutil.Error):
            for process in psutil.Process(self.root_pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    role = _role(process)
                    if not role.startswith("ray::") or "IDLE" in role:
                        continue
                    output = self.out_dir / f"{role.replace(':', '_')}-{process.pid}.txt"
                    recorder = subprocess.Popen(
                        [py_spy, "record", "--pid", str(process.pid), "--rate", str(self.rate_hz), "--format", "raw",
                         "--output", str(output), "--nonblocking"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    self.recorders.append((role, output, recorder))
        return self

    def __exit__(self, *exc) -> None:
        for _, _, recorder in self.recorders:
            recorder.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for _, _, recorder in self.recorders:
            try:
                recorder.wait(30)
            except subprocess.TimeoutExpired:
                recorder.kill()
                recorder.wait(5)

    def summary(self, top: int = 3) -> str:
        parts = []
        for role, output, _ in self.recorders:
            counts: dict[str, int] = {}
            total = 0
            with contextlib.suppress(OSError):
                for line in output.read_text().splitlines():
                    stack, _, samples = line.rpartition(" ")
                    total += int(samples)
                    for frame in set(stack.split(";")):
                        if "compox_ray/" in frame:
                            name = frame.split(" (", 1)[0]
                            counts[name] = counts.get(name, 0) + int(samples)
            if total and counts:
                ranked = sorted(counts.items(), key=lambda item: -item[1])[:top]
                parts.append(f"{role} [{total} samples]: " + ", ".join(f"{name} {100 * n / total:.0f}%"
                                                                       for name, n in ranked))
        return "; ".join(parts)


def wait_until_idle(root_pid: int, busy_cores: float = 0.3, timeout_s: float = 120) -> float:
    """Wait until the tree has used under ``busy_cores`` for two seconds running (start-up work such as
    deploying bundled algorithms and pre-starting workers is over; an idle Ray instance with Serve
    uses ~0.1-0.2 of a core here); the seconds waited."""
    start = time.monotonic()
    calm = 0
    while calm < 2 and time.monotonic() - start < timeout_s:
        with ProcessTreeCpu(root_pid) as cpu:
            time.sleep(1.0)
        calm = calm + 1 if sum(cpu.seconds.values()) < busy_cores else 0
    return time.monotonic() - start


def _role(process: psutil.Process) -> str:
    command = process.cmdline()
    title = command[0] if command else process.name()
    if title.startswith("ray::"):
        return title.split(" ", 1)[0]
    if len(command) > 2 and command[1] == "-m":
        return command[2]
    return Path(title).name


def machine_description() -> dict:
    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {"cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "cpu_model": cpu_model, "load_1m": round(os.getloadavg()[0], 2)}


def elapsed(start: float) -> float:
    return time.perf_counter() - start
