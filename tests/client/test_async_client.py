"""AsyncClient: the same operations over httpx.AsyncClient, many runs at once, cancellation as stop."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from compox_ray.client import AsyncClient, CompoxRayError, RunFailed
from tests.client.conftest import volume


def run_async(coroutine):
    return asyncio.run(coroutine)


def test_many_runs_at_once(local_server, test_algorithms):
    async def scenario():
        async with AsyncClient(local_server.url, progress=False) as client:
            volumes = [volume(seed) for seed in range(4)]
            results = await asyncio.gather(*(client.run("test_invert", v, {"mode": "copy"}) for v in volumes))
            file_ids = await client.upload_slices(volumes[0])
            back = await client.download_slices(file_ids)
            item = await client.download(file_ids[0])
            return volumes, results, back, item, await client.algorithms(tags=["trainable"])

    volumes, results, back, item, trainable = run_async(scenario())
    for data, result in zip(volumes, results):
        np.testing.assert_array_equal(result["image"], data)
    assert len({result.execution_id for result in results}) == 4
    np.testing.assert_array_equal(back, volumes[0])
    np.testing.assert_array_equal(item["image"], volumes[0][0])
    assert [a["algorithm_name"] for a in trainable] == ["unet3d_denoiser"]


def test_errors_are_the_same_typed_errors(local_server, test_algorithms):
    async def scenario():
        async with AsyncClient(local_server.url, progress=False) as client:
            with pytest.raises(RunFailed) as failed:
                await client.run("test_raiser", volume()[:1])
            with pytest.raises(CompoxRayError) as invalid:
                await client.run("test_invert", volume()[:1], {"offset": 99.0})
            return failed.value, invalid.value

    failed, invalid = run_async(scenario())
    assert failed.code == "execution_failed" and "deliberate failure" in failed.log
    assert (invalid.status, invalid.code) == (422, "invalid_parameters")


def test_cancelling_the_waiting_task_stops_the_run(local_server, test_algorithms):
    async def scenario():
        async with AsyncClient(local_server.url, progress=False) as client:
            running = asyncio.Event()
            seen = {}

            def note(record: dict) -> None:
                seen.setdefault("id", record["execution_id"])
                if record["status"] == "RUNNING":
                    running.set()

            task = asyncio.create_task(client.run("test_slow_steps", volume()[:1], {"steps": 400, "delay_s": 0.05},
                                                  on_update=note))
            await running.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            deadline = time.monotonic() + 60
            while (record := await client.status(seen["id"]))["status"] not in ("STOPPED", "COMPLETED", "FAILED"):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            return record

    record = run_async(scenario())
    assert record["status"] == "STOPPED" and "Stop requested" in record["log"]


def test_training_checkpoints_and_export(local_server, tmp_path):
    async def scenario():
        async with AsyncClient(local_server.url, progress=False) as client:
            clean = volume(9, shape=(8, 8, 8))
            sample = await client.create_sample({"input": clean, "target": clean}, tags=["async-test"])
            record = await client.train("unet3d_denoiser", [sample], {"epochs": 1, "steps_per_epoch": 1},
                                        tags=["async-test"])
            table = await client.checkpoints(tags=["async-test"], table=True)
            archive = await client.export("unet3d_denoiser", 1, tmp_path / "trained.zip",
                                          checkpoint=record["output_checkpoint_ids"][0])
            return record, table, archive

    record, table, archive = run_async(scenario())
    assert record["status"] == "COMPLETED" and table.num_rows == 1
    assert table["checkpoint_id"].to_pylist() == record["output_checkpoint_ids"]
    assert archive.stat().st_size > 0
