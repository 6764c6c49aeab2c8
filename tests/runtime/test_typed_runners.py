"""Every typed runner but Image2Image (test_executions.py) on the real server: one 2-D item per input
file, outputs read back from the server and checked value for value."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

from tests.factories.hdf5_files import read_hdf5
from tests.factories.packages import make_algorithm_package
from tests.runtime.conftest import deploy, execute, upload_slices, wait_for

RNG = np.random.default_rng(11)
VOLUME = RNG.random((3, 8, 8), dtype=np.float32)
MASKS = (VOLUME > 0.5).astype(np.uint8)


@dataclass(frozen=True)
class Case:
    runner: str                          # Runner.py of the package
    check: Callable[[list[dict]], None]  # given the output items, in order
    inputs: np.ndarray = field(default_factory=lambda: VOLUME)  # one slice per input file, under input_key
    input_key: str = "image"


def expect_slices(key: str, expected: np.ndarray):
    def check(items: list[dict]) -> None:
        assert len(items) == len(expected)
        for item, plane in zip(items, expected):
            np.testing.assert_array_equal(item[key], plane)
    return check


def expect_transforms(items: list[dict]) -> None:
    # One per pair of neighbouring slices: a shift by the difference of their means.
    assert len(items) == len(VOLUME) - 1
    for index, item in enumerate(items):
        shift = float(VOLUME[index + 1].mean() - VOLUME[index].mean())
        np.testing.assert_allclose(item["transform_matrix"], [[1, 0, shift], [0, 1, 0], [0, 0, 1]], rtol=1e-6)


def expect_embeddings(items: list[dict]) -> None:
    assert len(items) == len(VOLUME)
    for item, plane in zip(items, VOLUME):
        np.testing.assert_allclose(item["features"], [plane.mean(), plane.std()], rtol=1e-6)
        assert list(item["input_size"]) == list(item["original_size"]) == [8, 8]


def runner(base: str, inference: str) -> str:
    return (f"import numpy as np\nfrom compox.algorithm_utils.{base} import {base}\n\n\n"
            f"class Runner({base}):\n    def inference(self, data, args=None):\n        return {inference}\n")


CASES = {
    "Image2Segmentation": Case(
        runner("Image2SegmentationRunner", "(data > 0.5).astype(np.uint8)"), expect_slices("mask", MASKS)),
    "Image2MultiRegionSegmentation": Case(
        runner("Image2MultiRegionSegmentationRunner", "np.digitize(data, [1 / 3, 2 / 3]).astype(np.uint8)"),
        expect_slices("mask", np.digitize(VOLUME, [1 / 3, 2 / 3]).astype(np.uint8))),
    "Segmentation2Segmentation": Case(
        runner("Segmentation2SegmentationRunner", "(1 - data).astype(np.uint8)"), expect_slices("mask", 1 - MASKS),
        inputs=MASKS, input_key="mask"),
    "Image2Alignment": Case(
        runner("Image2AlignmentRunner", "[np.array([[1, 0, float(b.mean() - a.mean())], [0, 1, 0], [0, 0, 1]]) "
                                        "for a, b in zip(data[:-1], data[1:])]"),
        expect_transforms),
    "Image2Embedding": Case(
        runner("Image2EmbeddingRunner", "np.stack([[plane.mean(), plane.std()] for plane in data])"),
        expect_embeddings),
}


@pytest.mark.parametrize("algorithm_type", sorted(CASES))
def test_typed_runner_outputs_are_numerically_right(algorithm_type, local_server, tmp_path):
    case = CASES[algorithm_type]
    package = make_algorithm_package(tmp_path, f"typed_{algorithm_type.lower()}", runner=case.runner,
                                     algorithm_type=algorithm_type, additional_parameters=[])
    with local_server.client() as client:
        algorithm_id = deploy(client, package)
        inputs = upload_slices(client, case.inputs, case.input_key)
        record = wait_for(client, execute(client, algorithm_id, inputs))
        assert record["status"] == "COMPLETED", record["log"]
        case.check([read_hdf5(client.get(f"/api/v0/files/{file_id}").content)
                    for file_id in record["output_dataset_ids"]])
