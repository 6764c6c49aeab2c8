"""Client retries against a real flaky HTTP server (flaky_proxy.py) in front of the test server:
reads and keyed submits repeat after a 503 or a dropped connection, nothing else does."""

from __future__ import annotations

import json
import uuid

import pytest

from compox_ray.client import Client, CompoxRayError
from tests.client.conftest import volume
from tests.client.flaky_proxy import FlakyProxy
from tests.servers import free_port


@pytest.fixture
def proxy(local_server):
    flaky = FlakyProxy(local_server.url)
    yield flaky
    flaky.close()


@pytest.fixture
def flaky_client(proxy):
    with Client(proxy.url, progress=False, retries=4, backoff_s=0.01) as client:
        yield client


def test_reads_repeat_after_503_until_they_are_answered(proxy, flaky_client):
    proxy.script("GET", r"^/api/v0/algorithm/all", "503", "503")
    assert "denoise_3d" in {a["algorithm_name"] for a in flaky_client.algorithms()}
    assert [seen.answer for seen in proxy.requests("GET", r"^/api/v0/algorithm/all")] == ["503", "503", "forward"]


def test_retries_give_up_with_the_servers_last_answer(proxy, flaky_client):
    proxy.script("GET", r"^/$", "503", forever=True)
    with pytest.raises(CompoxRayError) as busy:
        flaky_client.info()
    assert (busy.value.status, busy.value.code, busy.value.retryable) == (503, "service_unavailable", True)
    assert len(proxy.requests("GET", r"^/$")) == 4  # the client's retries=4 attempts


def test_a_dropped_connection_on_a_read_repeats(proxy, flaky_client):
    file_id = flaky_client.upload(volume()[0])
    proxy.script("GET", r"^/api/v0/files/", "drop")
    assert flaky_client.download(file_id)["image"].shape == (16, 16)
    assert [seen.answer for seen in proxy.requests("GET", r"^/api/v0/files/")] == ["drop", "forward"]


def test_uploads_and_deploys_repeat_after_503(proxy, flaky_client, tmp_path):
    proxy.script("POST", r"^/api/v0/files$", "503")
    file_id = flaky_client.upload(volume()[0])
    assert [seen.answer for seen in proxy.requests("POST", r"^/api/v0/files$")] == ["503", "forward"]
    assert flaky_client.download(file_id)["image"].shape == (16, 16)
    from tests.factories.packages import make_algorithm_package

    folder = make_algorithm_package(tmp_path, name=f"retried_deploy_{uuid.uuid4().hex[:8]}")
    proxy.script("POST", r"^/api/v0/deploy", "forward-then-503")
    deployed = flaky_client.deploy(folder)
    posts = proxy.requests("POST", r"^/api/v0/deploy")
    assert [seen.answer for seen in posts] == ["forward-then-503", "forward"]
    assert json.loads(posts[0].upstream_body) == deployed  # the same content: the same version


def test_an_execution_whose_answer_was_lost_is_not_run_twice(proxy, flaky_client, test_algorithms):
    """The server ran the first POST; its answer was lost (503). The repeat carries the same
    Idempotency-Key and answers the first execution; there is only one."""
    proxy.script("POST", r"^/api/v0/execute-algorithm", "forward-then-503")
    proxy.script("GET", r"/events$", "404", forever=True)  # and a server without events: the client polls
    session = str(uuid.uuid4())
    result = flaky_client.run("test_invert", volume()[:2], {"mode": "copy"}, session=session)
    posts = proxy.requests("POST", r"^/api/v0/execute-algorithm")
    assert [seen.answer for seen in posts] == ["forward-then-503", "forward"]
    assert posts[0].headers["Idempotency-Key"] == posts[1].headers["Idempotency-Key"]
    first_id = json.loads(posts[0].upstream_body)["execution_id"]
    assert result.execution_id == first_id == json.loads(posts[1].upstream_body)["execution_id"]
    assert [e["execution_id"] for e in flaky_client.executions(session=session)] == [first_id]
    assert result["image"].shape == (2, 16, 16)
    assert proxy.requests("GET", r"/events$") and proxy.requests("GET", rf"^/api/v0/executions/{first_id}$")


def test_a_training_whose_answer_was_lost_is_not_started_twice(proxy, flaky_client):
    clean = volume(7, shape=(8, 8, 8))
    sample = flaky_client.create_sample({"input": clean, "target": clean}, tags=["retry-test"])
    proxy.script("POST", r"^/api/v0/train-algorithm", "forward-then-503")
    training_id = flaky_client.train("unet3d_denoiser", [sample], {"epochs": 1, "steps_per_epoch": 1}, wait=False)
    posts = proxy.requests("POST", r"^/api/v0/train-algorithm")
    assert [seen.answer for seen in posts] == ["forward-then-503", "forward"]
    assert training_id == json.loads(posts[0].upstream_body)["training_id"] == json.loads(
        posts[1].upstream_body)["training_id"]
    assert flaky_client.wait(training_id, kind="training")["status"] == "COMPLETED"


def test_posts_that_are_not_safe_to_repeat_are_sent_once(proxy, flaky_client):
    file_id = flaky_client.upload(volume()[0])
    proxy.script("POST", r"^/api/v0/sample$", "503")
    with pytest.raises(CompoxRayError) as busy:
        flaky_client.create_sample({"input": [file_id]})
    assert busy.value.status == 503 and len(proxy.requests("POST", r"^/api/v0/sample$")) == 1
    proxy.script("DELETE", r"^/api/v0/files/", "drop")
    with pytest.raises(CompoxRayError) as dropped:
        flaky_client.delete(file_id)
    assert dropped.value.code == "connection_failed" and len(proxy.requests("DELETE", r"^/api/v0/files/")) == 1
    proxy.script("POST", r"/stop$", "503")
    with pytest.raises(CompoxRayError) as not_stopped:
        flaky_client.stop(str(uuid.uuid4()), kind="execution")
    assert not_stopped.value.status == 503 and len(proxy.requests("POST", r"/stop$")) == 1


def test_a_server_that_is_not_there(proxy):
    with Client(f"http://127.0.0.1:{free_port()}", retries=2, backoff_s=0.01) as client:
        with pytest.raises(CompoxRayError) as unreachable:
            client.info()
    assert (unreachable.value.code, unreachable.value.status) == ("connection_failed", None)
    assert "no answer from http://127.0.0.1:" in str(unreachable.value)
