"""Back-pressure instead of collapse, on an app of its own with small limits (Serve updates it in
place between tests): full event streams answer our 503, a full Api replica answers Serve's 503,
both with Retry-After and at once, and a Runner deployment whose queue is full leaves executions
PENDING (the Dispatcher retries) until they run."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, as_completed

import httpx
import numpy as np
import pytest
import ray

from compox_ray.app import Api
from compox_ray.runtime.runner_deployment import RunnerCpu
from tests.own_apps import remove_own_app, run_own_app
from tests.runtime.conftest import PACKAGES, deploy, execute, upload_slices, wait_for

API_QUEUE = 1


def small_limits(api_slots: int):
    def build(settings):
        runners = {"cpu": RunnerCpu.options(max_ongoing_requests=1, max_queued_requests=1,
                                            ray_actor_options={"num_cpus": 0.5}).bind(settings)}
        return Api.options(max_ongoing_requests=api_slots, max_queued_requests=API_QUEUE).bind(settings, runners)
    return build


def with_limits(serve_port, data_dir, api_slots: int, streams: int):
    """The app with these limits (Serve updates it in place; its actors and records stay)."""
    return run_own_app("pressure", serve_port, data_dir, build=small_limits(api_slots), max_event_streams=streams,
                       gpu_runners=False, algorithms_dir=None)


@pytest.fixture(scope="module")
def pressure(serve_port, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("pressure")
    server = with_limits(serve_port, data_dir, api_slots=4, streams=2)
    with server.client() as client:
        slow_steps = deploy(client, PACKAGES / "slow_steps")
    yield lambda api_slots, streams: with_limits(serve_port, data_dir, api_slots, streams), slow_steps
    remove_own_app(server)


class HeldStream:
    """An event stream held open in a thread until the run it follows ends; made once the stream
    before it has had its first event (a burst would meet Serve's one-request queue)."""

    def __init__(self, server, execution_id: str):
        self.first_event = threading.Event()
        self.status: int | None = None
        self.thread = threading.Thread(target=self._follow, args=(server, execution_id), daemon=True)
        self.thread.start()
        assert self.first_event.wait(60) and self.status == 200, self.status

    def _follow(self, server, execution_id: str) -> None:
        try:
            with server.client(timeout=120) as client, \
                    client.stream("GET", f"/api/v0/executions/{execution_id}/events") as stream:
                self.status = stream.status_code
                for line in stream.iter_lines():
                    if line.startswith("data: "):
                        self.first_event.set()
        finally:
            self.first_event.set()


def long_execution(client, slow_steps: str) -> str:
    return execute(client, slow_steps, upload_slices(client, np.ones((1, 4, 4), np.float32)),
                   additional_parameters={"steps": 10_000, "delay_s": 0.5})


def test_full_event_streams_answer_our_503_with_retry_after(pressure):
    configure, slow_steps = pressure
    server = configure(api_slots=4, streams=2)
    with server.client(timeout=30) as client:
        execution_id = long_execution(client, slow_steps)
        streams = [HeldStream(server, execution_id) for _ in range(2)]
        refused = client.get(f"/api/v0/executions/{execution_id}/events")
        assert refused.status_code == 503
        assert (refused.json()["code"], refused.json()["retryable"]) == ("service_unavailable", True)
        assert refused.headers["retry-after"] == "1"
        assert client.get("/api/v0/health").status_code == 200  # other requests are served meanwhile
        assert client.post(f"/api/v0/executions/{execution_id}/stop").status_code == 200
        for stream in streams:
            stream.thread.join(60)
            assert stream.status == 200 and not stream.thread.is_alive()
        assert wait_for(client, execution_id)["status"] == "STOPPED"
        # the slots came back: a new stream is served (and ends at once: the run has ended)
        assert client.get(f"/api/v0/executions/{execution_id}/events").status_code == 200


def test_a_full_api_replica_answers_503_with_retry_after_at_once(pressure):
    configure, slow_steps = pressure
    server = configure(api_slots=3, streams=8)
    with server.client(timeout=30) as client:
        execution_id = long_execution(client, slow_steps)
        streams = [HeldStream(server, execution_id) for _ in range(3)]  # every ongoing slot of the replica
        with ThreadPoolExecutor(API_QUEUE + 4) as pool:
            calls = [pool.submit(httpx.get, f"{server.url}/api/v0/health", timeout=60) for _ in range(API_QUEUE + 4)]
            try:
                # API_QUEUE of them wait for a slot; the others are refused while the slots are held
                rejected = []
                for call in as_completed(calls, timeout=60):
                    assert call.result().status_code == 503, call.result().text
                    rejected.append(call.result())
                    if len(rejected) == 4:
                        break
                assert all(answer.headers.get("retry-after") == "1" for answer in rejected)
            finally:
                # not through the Api: its slots and its queue are full
                ray.get(server.actor("records").request_stop.remote(execution_id))
            answers = [call.result() for call in calls]
        # Serve may refuse one more than its queue holds (its count is not atomic): never fewer
        assert [answer.status_code for answer in answers].count(503) >= 4
        assert {answer.status_code for answer in answers} <= {200, 503}
        for stream in streams:
            stream.thread.join(60)
            assert stream.status == 200
        assert wait_for(client, execution_id)["status"] == "STOPPED"
        assert client.get("/api/v0/health").status_code == 200


def test_a_full_runner_queue_leaves_executions_pending_until_they_run(pressure):
    configure, slow_steps = pressure
    server = configure(api_slots=4, streams=2)
    dispatcher = server.actor("dispatcher")
    retries_before = ray.get(dispatcher.stats.remote())["backpressure_retries"]
    with server.client(timeout=30) as client:
        inputs = upload_slices(client, np.ones((1, 4, 4), np.float32))
        # one runs, one waits in Serve's queue, the others are refused by it and retried
        execution_ids = [execute(client, slow_steps, inputs, additional_parameters={"steps": 2, "delay_s": 0.2})
                         for _ in range(5)]
        records = [wait_for(client, execution_id, timeout_s=120) for execution_id in execution_ids]
    assert [record["status"] for record in records] == ["COMPLETED"] * 5, [r["log"][-300:] for r in records]
    assert ray.get(dispatcher.stats.remote())["backpressure_retries"] > retries_before
