"""Schemas of the item files algorithms read and write (Compox's ``algorithm_utils.io_schemas``).

One HDF5 item file holds flat top-level datasets named after a schema's fields. ``fetch_data`` and
``post_data`` validate every item against the schema the runner names, so a wrong key, shape or
dtype fails with the field's name instead of deep inside the algorithm.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

# Pixel types viewers can display; other dtypes are refused for images as in Compox.
IMAGE_DTYPES = (np.uint8, np.uint16, np.float16, np.float32, np.float64)


class DataSchema(BaseModel):
    """Base of every item schema: fields are numpy arrays, strings or numbers."""

    model_config = ConfigDict(arbitrary_types_allowed=True)


class GenericSchema(DataSchema):
    data: np.ndarray


class SegmentationSchema(DataSchema):
    mask: np.ndarray


class ImageSchema(DataSchema):
    """One 2-D slice (grayscale) or a 3 x H x W RGB image, plus an optional mask and points."""

    image: np.ndarray
    mask: Optional[np.ndarray] = None
    points: Optional[list[np.ndarray]] = None

    @field_validator("image")
    @classmethod
    def _image_is_displayable(cls, image: np.ndarray) -> np.ndarray:
        grayscale = image.ndim == 2
        rgb = image.ndim == 3 and image.shape[0] == 3
        if not (grayscale or rgb):
            raise ValueError(f"image must be 2-D grayscale or 3 x H x W RGB, got shape {image.shape}")
        if image.dtype not in IMAGE_DTYPES:
            names = ", ".join(np.dtype(dtype).name for dtype in IMAGE_DTYPES)
            raise ValueError(f"image dtype must be one of {names}, got {image.dtype}")
        return image


class VolumeSchema(DataSchema):
    volume: np.ndarray
    mask: Optional[np.ndarray] = None
    points: Optional[list[np.ndarray]] = None
    stats: Optional[str] = None

    @field_validator("volume")
    @classmethod
    def _volume_is_3d(cls, volume: np.ndarray) -> np.ndarray:
        if volume.ndim != 3:
            raise ValueError(f"volume must be 3-D, got shape {volume.shape}")
        return volume


class MeshSchema(DataSchema):
    vertices: np.ndarray
    faces: np.ndarray
    stats: Optional[str] = None

    @field_validator("vertices")
    @classmethod
    def _vertices_are_points(cls, vertices: np.ndarray) -> np.ndarray:
        if vertices.ndim != 2 or vertices.shape[1] != 3 or not np.issubdtype(vertices.dtype, np.floating):
            raise ValueError(f"vertices must be an N x 3 float array, got {vertices.dtype} {vertices.shape}")
        return vertices

    @field_validator("faces")
    @classmethod
    def _faces_index_vertices(cls, faces: np.ndarray) -> np.ndarray:
        if faces.ndim != 2 or faces.shape[1] != 3 or not np.issubdtype(faces.dtype, np.integer):
            raise ValueError(f"faces must be an N x 3 integer array, got {faces.dtype} {faces.shape}")
        return faces


class AlignmentSchema(DataSchema):
    points1: Optional[list[np.ndarray]] = Field(default_factory=list)
    points2: Optional[list[np.ndarray]] = Field(default_factory=list)
    confidence: Optional[list[float]] = Field(default_factory=list)
    transform_matrix: Optional[np.ndarray] = None
    translation_matrix: Optional[np.ndarray] = None


class EmbeddingSchema(DataSchema):
    features: np.ndarray
    input_size: tuple
    original_size: tuple
