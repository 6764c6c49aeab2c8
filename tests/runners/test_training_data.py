"""TrainingSample / TrainingDataset indexing (Compox's conventions) and the TempStore's guards."""

from __future__ import annotations

import numpy as np
import pytest

from compox_ray.runners import ImageSchema, TempStore, TrainingDataset, TrainingSample
from compox_ray.runners.hdf5_items import item_bytes, read_item, validate_item
from compox_ray.runners.io_schemas import AlignmentSchema, EmbeddingSchema, VolumeSchema


def sample(sample_id: str, entries: list[dict]) -> TrainingSample:
    return TrainingSample({"sample_id": sample_id, "files": entries, "tags": ["a"]})


def test_sample_and_dataset_indexing():
    first = sample("s1", [{"input": ["a", "b"], "target": ["c"]}, {"input": ["d"], "target": ["e"]}])
    second = sample("s2", [{"input": ["f"], "target": ["g"]}])
    dataset = TrainingDataset([first, second])
    assert first[0] == {"input": ["a", "b"], "target": ["c"]}
    assert first[0, "input"] == ["a", "b"]
    assert first[:, "input"] == ["a", "b", "d"]
    assert first[:, :] == ["a", "b", "c", "d", "e"]
    assert dataset[1] is second
    assert dataset[:, "target"] == [["c", "e"], ["g"]]
    assert dataset[0, "input"] == ["a", "b", "d"]
    assert dataset.get_sample_keys() == ["input", "target"]
    assert dataset.get_sample_by_id("s2") is second and len(dataset + first) == 3


def test_samples_with_other_keys_do_not_mix():
    with pytest.raises(ValueError, match="Inconsistent file keys"):
        TrainingDataset([sample("s1", [{"input": ["a"]}]), sample("s2", [{"image": ["b"]}])])


def test_temp_store_writes_items_atomically_and_stays_inside_its_root(tmp_path):
    store = TempStore(tmp_path / "store")
    paths = store.save("sample/input", [{"image": np.eye(3, dtype=np.float32)}] * 2, ImageSchema, parallel=True)
    assert all(path.parent == tmp_path / "store" / "sample" / "input" for path in paths)
    assert not list((tmp_path / "store").rglob("*.partial"))
    np.testing.assert_array_equal(store.load(paths, False, "image")[0]["image"], np.eye(3))
    for escape in ("../outside", "/etc", "a/../../b"):
        with pytest.raises(ValueError, match="outside the temp store"):
            store.mkdir(escape)
    with pytest.raises(ValueError, match="outside the temp store"):
        store.load([tmp_path / "elsewhere.h5"])
    store.cleanup()
    assert not (tmp_path / "store").exists()


def test_items_round_trip_through_hdf5_with_their_schema_types():
    alignment = validate_item(AlignmentSchema, {"points1": [np.zeros(2), np.ones(2)], "confidence": [0.5, 1.0],
                                                "transform_matrix": np.eye(3)})
    back = validate_item(AlignmentSchema, read_item(item_bytes(alignment)))
    assert [point.tolist() for point in back["points1"]] == [[0, 0], [1, 1]] and back["confidence"] == [0.5, 1.0]
    embedding = validate_item(EmbeddingSchema, read_item(item_bytes({"features": np.ones(4), "input_size": (8, 8),
                                                                     "original_size": (8, 8)})))
    assert embedding["input_size"] == (8, 8)
    volume = validate_item(VolumeSchema, read_item(item_bytes({"volume": np.zeros((2, 2, 2)), "stats": "ok"})))
    assert volume["stats"] == "ok" and volume["mask"] is None


@pytest.mark.parametrize("image, message", [
    (np.zeros((2, 2, 2)), "2-D grayscale"),
    (np.zeros((4, 4), np.int32), "dtype"),
])
def test_image_schema_refuses_what_viewers_cannot_show(image, message):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        validate_item(ImageSchema, {"image": image})
