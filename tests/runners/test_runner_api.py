"""The runner API on a package that calls every method of it, run locally with LocalRunContext
(real HDF5 item files on disk, the real loader and import isolation; no server)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from compox_ray.algorithms.loader import load_algorithm_from_folder
from compox_ray.errors import CompoxError
from compox_ray.runners import LocalRunContext, RunStopped, use_context
from compox_ray.runners.base_runner import run_attributes_scope
from compox_ray.runners.hdf5_items import read_item

API_TOUR = Path(__file__).resolve().parents[1] / "fixtures" / "packages" / "api_tour"


@pytest.fixture(scope="module")
def tour():
    algorithm = load_algorithm_from_folder(API_TOUR)
    yield algorithm
    algorithm.close()


@pytest.fixture
def context(tmp_path, tour):
    with LocalRunContext(tmp_path / "run", parameters=tour.with_defaults({"offset": 2.5})) as run:
        yield run


def test_execute_reads_inputs_writes_outputs_and_reports(tour, context):
    inputs = [context.add_item(data=np.arange(4)), context.add_item(data=np.ones((2, 2)))]
    output_ids = tour.execute(context, inputs)

    assert len(output_ids) == 3
    np.testing.assert_allclose(context.read_item(output_ids[0])["data"], np.arange(4) + 2.5)
    np.testing.assert_allclose(context.read_item(output_ids[1])["data"], np.ones((2, 2)) + 2.5)
    volume_item = context.read_item(output_ids[2])
    assert volume_item["volume"].shape == (2, 2, 2) and volume_item["stats"] == "count=2"
    assert context.progress == [0.1, 0.6]
    assert ("WARNING", "session calls: 1; model model-v1; device cpu") in context.log
    assert context.log[0] == ("INFO", "Starting execution.")
    assert context.log[-1][1].startswith("Execution completed in")
    assert tour.runner.loaded_for == "cpu"


def test_session_items_survive_between_runs_and_can_be_removed(tour, context):
    inputs = [context.add_item(data=np.arange(2))]
    tour.execute(context, inputs)
    tour.execute(context, inputs)
    assert context.session["calls"] == 2
    context.parameters["forget"] = True
    tour.execute(context, inputs)
    assert "calls" not in context.session


def test_per_run_attributes_do_not_leak_into_the_next_run(tour, context):
    tour.execute(context, [context.add_item(data=np.arange(2))])
    tour.execute(context, [context.add_item(data=np.arange(2))])
    leftovers = [message for level, message in context.log if message.startswith("leftover count")]
    assert leftovers == ["leftover count: None", "leftover count: None"]
    assert not hasattr(tour.runner, "count")  # nothing a run set stays on the shared instance


def test_concurrent_runs_keep_their_own_attributes(tour, tmp_path):
    results, errors = {}, []

    def run(count: int) -> None:
        with LocalRunContext(tmp_path / f"run{count}", parameters=tour.with_defaults({"sleep_s": 0.3})) as context:
            try:
                outputs = tour.execute(context, [context.add_item(data=np.arange(3)) for _ in range(count)])
                results[count] = context.read_item(outputs[-1])["stats"]
            except Exception as error:  # surfaced below: a thread swallows it otherwise
                errors.append(error)

    threads = [threading.Thread(target=run, args=(count,)) for count in (1, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == {1: "count=1", 4: "count=4"}


def test_attributes_from_load_assets_are_locked(tour, context):
    context.parameters["reassign_asset"] = True
    with pytest.raises(AttributeError, match="model_text"):
        tour.execute(context, [context.add_item(data=np.arange(2))])
    assert tour.runner.model_text == "model-v1"


def test_a_stop_request_ends_the_run_at_its_next_report(tour, context):
    context.request_stop()
    with pytest.raises(RunStopped):
        tour.execute(context, [context.add_item(data=np.arange(2))])


def test_parameters_are_validated_and_defaulted_like_on_the_server(tour):
    assert tour.with_defaults({}) == {"offset": 1.0, "sleep_s": 0.0, "reassign_asset": False, "forget": False}
    assert tour.with_defaults({}, training=True) == {"epochs": 2}
    with pytest.raises(CompoxError) as raised:
        tour.with_defaults({"offset": 1000})
    assert raised.value.code == "invalid_parameters" and raised.value.details["parameter"] == "offset"


def test_train_uses_dataset_temp_store_state_and_checkpoints(tour, tmp_path):
    with LocalRunContext(tmp_path / "train", parameters=tour.with_defaults({"epochs": 3}, training=True)) as context:
        entries = [{"input": [context.add_item(data=np.full(3, 1.0)), context.add_item(data=np.full(3, 2.0))],
                    "target": [context.add_item(data=np.zeros(3))]}]
        sample_ids = [context.add_sample(entries), context.add_sample(entries)]
        tour.train(context, sample_ids)

        assert context.progress == pytest.approx([1 / 3, 2 / 3, 1.0])
        assert context.state == {"epoch": 3, "keys": ["input", "target"], "total": 18.0}
        checkpoints = list(context.checkpoints.values())
        assert [c["assets"] for c in checkpoints] == [{"files/model.txt": f"model-epoch-{e}\n".encode()}
                                                      for e in (1, 2, 3)]
        assert checkpoints[-1]["properties"] == {"epoch": 3, "state_epoch": 3, "reloaded": [0, 1, 2], "downloaded": 2}
        temp_files = sorted(Path(context.temp_dir()).rglob("*.h5"))
        assert len(temp_files) == 2 * 3 + 1 + 2  # two samples x three files, one saved, two downloaded
        assert read_item(temp_files[0])  # complete HDF5 items, written atomically
        assert ("INFO", "Fetched training dataset with 2 samples.") in context.log


def test_a_checkpoint_can_only_replace_existing_assets(tour, tmp_path):
    with LocalRunContext(tmp_path / "ckpt") as context:
        with use_context(context), run_attributes_scope(tour.runner):
            with pytest.raises(ValueError, match="files/unknown.bin"):
                tour.runner.save_checkpoint({"files/unknown.bin": b"x"})
            with pytest.raises(ValueError, match="between 0 and 1"):
                tour.runner.set_progress(1.5)
            with pytest.raises(ValueError, match="logging level"):
                tour.runner.log_message("x", "LOUD")
            assert tour.runner.save_checkpoint({"./files/model.txt": b"y"}) in context.checkpoints


def test_benchmark_runs_with_the_loaded_assets(tour, context):
    assert tour.benchmark(context) == {"model": "model-v1"}


def test_runner_helpers_outside_a_run_say_so(tour):
    with pytest.raises(RuntimeError, match="no run is active"):
        tour.runner.set_progress(0.5)
