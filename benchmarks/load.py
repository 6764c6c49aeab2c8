"""A bounded load on one server: N clients, each in a loop for a fixed time, upload a small item,
execute a trivial (pass-through) algorithm on it, follow the execution to its end and download the
output, checking its bytes. It stops by itself (the cycles in flight at the deadline finish, each
within ``cycle_timeout_s``) and then reads back every record it created: none may be lost (404) or
stuck (not ended), every output must equal its input, and no answer may be a 5xx.

    python -m benchmarks.load URL ALGORITHM_ID [--clients 32] [--seconds 60] [--follow events|poll]

tests/runtime/test_load.py runs it against the test server; benchmarks/figures/reliability.py
reports its throughput and latency.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import numpy as np

from benchmarks.datasets import image_bytes, read_image

TERMINAL = {"COMPLETED", "FAILED", "STOPPED"}


@dataclass
class LoadReport:
    clients: int
    seconds: float
    cycle_s: list[float] = field(default_factory=list)  # upload -> output checked, one per cycle
    server_errors: list[str] = field(default_factory=list)  # every 5xx answer
    failures: list[str] = field(default_factory=list)  # anything else that went wrong in a cycle
    wrong_outputs: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # created, then not found
    stuck: list[str] = field(default_factory=list)  # not ended when the load was over
    execution_ids: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def cycles(self) -> int:
        return len(self.cycle_s)

    @property
    def throughput(self) -> float:
        """Completed cycles per second of the load's own wall time."""
        return self.cycles / self.wall_s if self.wall_s else 0.0

    def percentile_ms(self, q: int) -> float:
        if len(self.cycle_s) < 2:
            return self.cycle_s[0] * 1000 if self.cycle_s else float("nan")
        return statistics.quantiles(self.cycle_s, n=100, method="inclusive")[q - 1] * 1000

    @property
    def clean(self) -> bool:
        return not (self.server_errors or self.failures or self.wrong_outputs or self.lost or self.stuck) \
            and self.cycles > 0

    def summary(self) -> str:
        return (f"{self.clients} clients for {self.seconds:g} s: {self.cycles} cycles, "
                f"{self.throughput:.1f} cycles/s, p50 {self.percentile_ms(50):.0f} ms, p99 {self.percentile_ms(99):.0f} ms; "
                f"5xx {len(self.server_errors)}, failures {len(self.failures)}, wrong outputs "
                f"{len(self.wrong_outputs)}, lost {len(self.lost)}, stuck {len(self.stuck)}")


class _Client:
    """One client's connection; every answer passes through ``_answer`` (5xx are recorded)."""

    def __init__(self, base_url: str, report: LoadReport, lock: threading.Lock, timeout_s: float):
        self.http = httpx.Client(base_url=base_url, timeout=timeout_s)
        self.report, self.lock = report, lock

    def _answer(self, response: httpx.Response) -> httpx.Response:
        if response.status_code >= 500:
            with self.lock:
                self.report.server_errors.append(
                    f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text[:200]}")
        if response.status_code >= 400:
            raise RuntimeError(f"{response.request.method} {response.request.url.path} -> {response.status_code}: "
                               f"{response.text[:300]}")
        return response

    def follow_events(self, execution_id: str, deadline: float) -> dict:
        """The record in the last event of the execution's stream, which ends with the run."""
        record = None
        with self.http.stream("GET", f"/api/v0/executions/{execution_id}/events") as stream:
            if stream.status_code != 200:
                stream.read()
                self._answer(stream)
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    record = json.loads(line[6:])
                if time.monotonic() > deadline:
                    raise TimeoutError(f"execution {execution_id}: its event stream has not ended")
        if record is None or record["status"] not in TERMINAL:
            raise RuntimeError(f"execution {execution_id}: the stream ended before the run did ({record})")
        return record

    def follow_polling(self, execution_id: str, deadline: float) -> dict:
        while True:
            record = self._answer(self.http.get(f"/api/v0/executions/{execution_id}")).json()
            if record["status"] in TERMINAL:
                return record
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_id} still {record['status']}")
            time.sleep(0.01)

    def cycle(self, algorithm_id: str, image: np.ndarray, follow: str, cycle_timeout_s: float) -> float:
        start = time.perf_counter()
        deadline = time.monotonic() + cycle_timeout_s
        file_id = self._answer(self.http.post("/api/v0/files", content=image_bytes(image))).json()["file_id"]
        execution_id = self._answer(self.http.post("/api/v0/execute-algorithm", json={
            "algorithm_id": algorithm_id, "input_dataset_ids": [file_id]})).json()["execution_id"]
        with self.lock:
            self.report.execution_ids.append(execution_id)
        follow_run = self.follow_events if follow == "events" else self.follow_polling
        record = follow_run(execution_id, deadline)
        if record["status"] != "COMPLETED":
            raise RuntimeError(f"execution {execution_id} ended {record['status']}: {record['log'][-300:]}")
        (output_id,) = record["output_dataset_ids"]
        response = self._answer(self.http.get(f"/api/v0/files/{output_id}"))
        if len(response.content) != int(response.headers["content-length"]) or \
                not np.array_equal(read_image(response.content), image):
            with self.lock:
                self.report.wrong_outputs.append(f"execution {execution_id}: output {output_id}")
        return time.perf_counter() - start


def run_load(base_url: str, algorithm_id: str, clients: int = 32, seconds: float = 60, follow: str = "events",
             cycle_timeout_s: float = 120) -> LoadReport:
    """``clients`` threads, each cycling until ``seconds`` have passed; then every record is read back."""
    report, lock = LoadReport(clients=clients, seconds=seconds), threading.Lock()
    stop_at = time.monotonic() + seconds

    def one_client(index: int) -> None:
        rng = np.random.default_rng(index)
        client = _Client(base_url, report, lock, timeout_s=cycle_timeout_s)
        try:
            while time.monotonic() < stop_at:
                image = rng.random((16, 16), dtype=np.float32)
                try:
                    elapsed_s = client.cycle(algorithm_id, image, follow, cycle_timeout_s)
                except Exception as error:  # recorded, and the client goes on
                    with lock:
                        report.failures.append(f"client {index}: {type(error).__name__}: {str(error)[:300]}")
                    continue
                with lock:
                    report.cycle_s.append(elapsed_s)
        finally:
            client.http.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one_client, range(clients)))
    report.wall_s = time.perf_counter() - started
    with httpx.Client(base_url=base_url, timeout=60) as http:
        for execution_id in report.execution_ids:
            response = http.get(f"/api/v0/executions/{execution_id}")
            if response.status_code == 404:
                report.lost.append(execution_id)
            elif response.status_code != 200:
                report.failures.append(f"read back {execution_id}: {response.status_code}")
            elif response.json()["status"] not in TERMINAL:
                report.stuck.append(f"{execution_id}: {response.json()['status']}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("algorithm_id", help="a deployed pass-through Image2Image algorithm (benchmarks/packages/passthrough)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--follow", choices=("events", "poll"), default="events")
    args = parser.parse_args(argv)
    if not args.url.startswith(("http://127.0.0.1", "http://localhost")):
        raise SystemExit("the load runs on loopback only")
    report = run_load(args.url, args.algorithm_id, args.clients, args.seconds, args.follow)
    print(report.summary())
    for problem in (report.server_errors + report.failures + report.wrong_outputs + report.lost + report.stuck)[:20]:
        print(f"  {problem}")
    return 0 if report.clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
