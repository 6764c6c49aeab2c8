"""Event streams end once their run has ended, whatever Last-Event-ID a client sends; a header that
names no event is a 400; many streams open at once leave the server answering."""

from __future__ import annotations

import asyncio
import json

import httpx
import numpy as np
import pytest

from compox_ray import ids
from tests.runtime.conftest import execute, read_events, upload_slices, wait_for

BAD_EVENT_IDS = ("²", "9" * 5000, "-1", "1e3", "12 13")


@pytest.fixture(scope="module")
def client(local_server):
    with local_server.client() as http:
        yield http


@pytest.fixture(scope="module")
def finished(client, algorithms) -> tuple[str, int]:
    """A COMPLETED execution and the revision of its last event."""
    execution_id = execute(client, algorithms["invert"], upload_slices(client, np.ones((2, 4, 4), np.float32)))
    events = read_events(client, f"/api/v0/executions/{execution_id}/events")
    assert events[-1]["record"]["status"] == "COMPLETED"
    return execution_id, events[-1]["id"]


def test_a_last_event_id_that_names_no_event_is_a_400(client, finished):
    execution_id, _ = finished
    for header in BAD_EVENT_IDS:
        # latin-1 is what HTTP headers carry: "²" arrives as the one character that str.isdigit takes
        headers = {"Last-Event-ID": header.encode("latin-1")}
        for path in (f"/api/v0/executions/{execution_id}/events", f"/api/v0/training/{ids.new_id()}/events"):
            response = client.get(path, headers=headers)
            assert (response.status_code, response.json()["code"]) == (400, "invalid_last_event_id"), (path, header)


def test_an_ended_run_resumed_at_or_past_its_last_event_ends_at_once(client, finished):
    execution_id, last = finished
    path = f"/api/v0/executions/{execution_id}/events"
    for resume_after in (last, last + 1, 10**17):
        assert read_events(client, path, last_event_id=resume_after, timeout_s=10) == []
    replayed = read_events(client, path, last_event_id=last - 1, timeout_s=10)
    assert [event["id"] for event in replayed] == [last]
    assert replayed[0]["record"]["status"] == "COMPLETED"


def test_a_running_run_resumed_past_its_last_event_ends_with_the_run(client, algorithms):
    execution_id = execute(client, algorithms["slow_steps"], upload_slices(client, np.ones((1, 4, 4), np.float32)),
                           additional_parameters={"steps": 20, "delay_s": 0.05})
    events = read_events(client, f"/api/v0/executions/{execution_id}/events", last_event_id=10**12, timeout_s=60)
    assert events and events[-1]["record"]["status"] == "COMPLETED"
    assert wait_for(client, execution_id)["status"] == "COMPLETED"


async def _open_streams(url: str, path: str, count: int, opened: asyncio.Event, ended: list[dict]) -> None:
    """``count`` streams of one run; ``opened`` is set once each has had its first event."""
    first_events = 0
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=count + 10)
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(120, connect=60), limits=limits) as http:
        async def one() -> None:
            nonlocal first_events
            last = None
            async with http.stream("GET", path) as stream:
                assert stream.status_code == 200, await stream.aread()
                async for line in stream.aiter_lines():
                    if line.startswith("data: "):
                        if last is None:
                            first_events += 1
                            if first_events == count:
                                opened.set()
                        last = json.loads(line[6:])
            ended.append(last)
        await asyncio.gather(*(one() for _ in range(count)))


def test_health_answers_with_500_streams_open_and_they_all_end_with_their_run(local_server, client, algorithms):
    # one progress event every 2 s: the streams stay open until the run is stopped
    execution_id = execute(client, algorithms["slow_steps"], upload_slices(client, np.ones((1, 4, 4), np.float32)),
                           additional_parameters={"steps": 10_000, "delay_s": 2.0})
    count, ended = 500, []

    async def scenario() -> None:
        opened = asyncio.Event()
        streams = asyncio.create_task(_open_streams(local_server.url, f"/api/v0/executions/{execution_id}/events",
                                                    count, opened, ended))
        await asyncio.wait_for(opened.wait(), 180)
        async with httpx.AsyncClient(base_url=local_server.url, timeout=30) as http:
            health = await http.get("/api/v0/health")
            assert (health.status_code, health.json()["status"]) == (200, "ok")
            stopped = await http.post(f"/api/v0/executions/{execution_id}/stop")
            assert stopped.status_code == 200, stopped.text
        await asyncio.wait_for(streams, 120)

    asyncio.run(scenario())
    assert len(ended) == count
    assert {record["status"] for record in ended} == {"STOPPED"}
