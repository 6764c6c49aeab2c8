"""Client: samples, training with progress and Ctrl-C, checkpoints as records and as a pyarrow table."""

from __future__ import annotations

import time
import uuid
import zipfile

import pyarrow.compute as pc
import pytest

from compox_ray.client import CompoxRayError
from tests.client.conftest import volume


@pytest.fixture(scope="module")
def unet_sample(local_server):
    from compox_ray.client import Client

    with Client(local_server.url, progress=False) as client:
        clean = volume(11, shape=(8, 8, 8))
        return client.create_sample({"input": clean, "target": clean}, tags=["Client-Training", " unet "])


def test_samples_from_ids_and_arrays(compox):
    file_id = compox.upload(volume()[0])
    tag = f"s-{uuid.uuid4().hex[:8]}"
    from_ids = compox.create_sample([{"input": [file_id], "target": [file_id]}], tags=[tag])
    from_arrays = compox.create_sample({"input": volume(1)[:3]}, tags=[tag, "arrays"])
    assert compox.sample(from_ids)["files"] == [{"input": [file_id], "target": [file_id]}]
    assert len(compox.sample(from_arrays)["files"][0]["input"]) == 3
    assert {s["sample_id"] for s in compox.samples(tags=[tag])} == {from_ids, from_arrays}
    assert [s["sample_id"] for s in compox.samples(tags=[tag], exclude_tags=["arrays"])] == [from_ids]
    compox.delete_sample(from_arrays)
    with pytest.raises(CompoxRayError) as gone:
        compox.sample(from_arrays)
    assert (gone.value.status, gone.value.code) == (404, "sample_not_found")


def test_train_then_filter_checkpoints_by_their_properties(compox, unet_sample, tmp_path):
    tag = f"t-{uuid.uuid4().hex[:8]}"
    states = []
    trainings = [compox.train("unet3d_denoiser", unet_sample, {"epochs": 2, "steps_per_epoch": 1, "learning_rate": lr},
                              tags=[tag, f"lr:{lr}"], on_update=lambda record: states.append(record["status"]))
                 for lr in (0.001, 0.01)]
    assert [t["status"] for t in trainings] == ["COMPLETED", "COMPLETED"] and states[-1] == "COMPLETED"
    records = compox.checkpoints(tags=[tag])
    assert [c["checkpoint_id"] for c in records] == [t["output_checkpoint_ids"][0] for t in trainings]
    assert compox.checkpoint(records[0]["checkpoint_id"])["properties"]["epochs"] == 2
    table = compox.checkpoints(tags=[tag], algorithm="unet3d_denoiser", table=True)
    assert table.num_rows == 2 and {"validation_loss", "learning_rate", "tags", "training_id"} <= set(
        table.column_names)
    fast = table.filter(pc.field("learning_rate") > 0.005)
    assert fast["training_id"].to_pylist() == [trainings[1]["training_id"]]
    best = table.sort_by("validation_loss")["checkpoint_id"][0].as_py()
    assert best in {c["checkpoint_id"] for c in records}
    assert compox.checkpoints(tags=[tag], training=trainings[0]["training_id"])[0]["checkpoint_id"] == records[0][
        "checkpoint_id"]
    assert compox.checkpoints(tags=[tag], algorithm="denoise_3d") == []
    archive = compox.export("unet3d_denoiser", 1, tmp_path / "trained.zip", checkpoint=best)
    assert "files/weights.pt" in zipfile.ZipFile(archive).namelist()
    compox.delete_checkpoint(records[0]["checkpoint_id"])
    assert [c["checkpoint_id"] for c in compox.checkpoints(tags=[tag])] == [records[1]["checkpoint_id"]]


def test_training_errors_and_ctrl_c(compox, unet_sample):
    with pytest.raises(CompoxRayError) as missing:
        compox.train("unet3d_denoiser", [str(uuid.uuid4())])
    assert (missing.value.status, missing.value.code) == (404, "input_samples_not_found")
    with pytest.raises(CompoxRayError) as invalid:
        compox.train("unet3d_denoiser", [unet_sample], {"epochs": 0})
    assert (invalid.value.status, invalid.value.code) == (422, "invalid_parameters")
    seen = {}

    def interrupt_once_running(record: dict) -> None:
        seen.setdefault("id", record["training_id"])
        if record["status"] == "RUNNING":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compox.train("unet3d_denoiser", [unet_sample], {"epochs": 500, "steps_per_epoch": 50},
                     on_update=interrupt_once_running)
    deadline = time.monotonic() + 120
    while (record := compox.status(seen["id"], kind="training"))["status"] not in ("STOPPED", "COMPLETED", "FAILED"):
        assert time.monotonic() < deadline, record
        time.sleep(0.1)
    assert record["status"] == "STOPPED"
    assert compox.status(seen["id"])["training_id"] == seen["id"]  # found without saying its kind
