"""Typed runners for stacks of 2-D slices (Compox's Image2ImageRunner and siblings).

Convention: each input file holds one 2-D slice (key ``image``, or ``mask`` for
Segmentation2Segmentation); ``preprocess`` stacks them along axis 0 into one array; ``inference``
(the author's) answers an array with one slice per input slice; ``postprocess`` writes one file per
slice under the output key. Alignment and embedding runners differ only in what they write.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from compox_ray.runners.base_runner import BaseRunner
from compox_ray.runners.item_transfer import fetch_items, post_items
from compox_ray.runners.io_schemas import (
    AlignmentSchema,
    DataSchema,
    EmbeddingSchema,
    ImageSchema,
    SegmentationSchema,
)


class SliceStackRunner(BaseRunner):
    """Reads ``input_key`` from every input file with ``input_schema``, writes ``output_key``."""

    input_key = "image"
    input_schema: type[DataSchema] = ImageSchema
    output_key = "image"
    output_schema: type[DataSchema] = ImageSchema

    def fetch_data(self, file_ids: list[str], *keys: str, parallel: bool = False) -> list[dict]:
        return fetch_items(file_ids, self.input_schema, keys, parallel)

    def post_data(self, data: list[dict], parallel: bool = False) -> list[str]:
        return post_items(data, self.output_schema, parallel)

    def preprocess(self, input_data: dict, args: dict | None = None) -> np.ndarray:
        file_ids = list(input_data.get("input_dataset_ids") or [])
        if not file_ids:
            raise ValueError("The execution has no input datasets.")
        slices = [item[self.input_key] for item in self.fetch_data(file_ids, self.input_key)]
        shapes = {item.shape for item in slices}
        if len(shapes) > 1:
            raise ValueError(f"The input slices differ in shape ({sorted(shapes)}); they must stack into one volume.")
        stack = np.stack(slices, axis=0)
        self._input_images_count = len(slices)
        self._input_images_shape = stack.shape
        return stack

    def inference(self, data: Any, args: dict | None = None) -> Any:
        raise NotImplementedError("The inference method is not implemented: implement it in the algorithm's Runner.")

    def _check_slice_count(self, data: Any) -> None:
        if not isinstance(data, np.ndarray):
            raise TypeError(f"inference must return a numpy array, got {type(data).__name__}")
        expected = getattr(self, "_input_images_count", None)
        if expected is not None and data.shape[0] != expected:
            raise ValueError(f"inference returned {data.shape[0]} slices along axis 0 for {expected} input slices; "
                             "it must return one slice per input slice.")

    def postprocess(self, data: np.ndarray, args: dict | None = None) -> list[str]:
        self._check_slice_count(data)
        return self.post_data([{self.output_key: data[index]} for index in range(data.shape[0])])


class Image2ImageRunner(SliceStackRunner):
    algorithm_type = "Image2Image"


class Image2SegmentationRunner(SliceStackRunner):
    """Writes one ``mask`` file per input slice (binary: 0 background, 1 foreground)."""

    algorithm_type = "Image2Segmentation"
    output_key = "mask"
    output_schema = SegmentationSchema


class Image2MultiRegionSegmentationRunner(Image2SegmentationRunner):
    """As Image2Segmentation, with integer labels: 0 background, 1..N one region each."""

    algorithm_type = "Image2MultiRegionSegmentation"


class Segmentation2SegmentationRunner(SliceStackRunner):
    algorithm_type = "Segmentation2Segmentation"
    input_key = "mask"
    input_schema = SegmentationSchema
    output_key = "mask"
    output_schema = SegmentationSchema


class Image2AlignmentRunner(SliceStackRunner):
    """``inference`` answers one 3 x 3 transform per pair of neighbouring slices (N - 1 of them)."""

    algorithm_type = "Image2Alignment"
    output_schema = AlignmentSchema

    def postprocess(self, data: list[np.ndarray], args: dict | None = None) -> list[str]:
        if not isinstance(data, list) or not all(isinstance(matrix, np.ndarray) for matrix in data):
            raise TypeError("inference must return a list of numpy arrays (one transform per neighbouring pair)")
        expected = getattr(self, "_input_images_count", None)
        if expected is not None and len(data) != expected - 1:
            raise ValueError(f"inference returned {len(data)} transforms for {expected} slices; "
                             f"expected {expected - 1}, one per pair of neighbouring slices.")
        return self.post_data([{"transform_matrix": matrix, "translation_matrix": matrix} for matrix in data])


class Image2EmbeddingRunner(SliceStackRunner):
    """``inference`` answers one feature array per slice; sizes are recorded beside them."""

    algorithm_type = "Image2Embedding"
    output_schema = EmbeddingSchema

    def postprocess(self, data: np.ndarray, args: dict | None = None) -> list[str]:
        self._check_slice_count(data)
        shape = tuple(getattr(self, "_input_images_shape", (len(data),))[1:])
        return self.post_data([{"features": data[index], "input_size": shape, "original_size": shape}
                               for index in range(data.shape[0])])
