"""The algorithm-author API (Compox's ``compox.algorithm_utils``), importable as ``compox_ray.runners``.

Inside a deployed package, ``from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner``
resolves here when the real compox is not installed (algorithms/compox_alias.py).
"""

from compox_ray.runners.assets import PackageAssets
from compox_ray.runners.base_runner import BaseRunner
from compox_ray.runners.context import RunContext, RunStopped, current_context, use_context
from compox_ray.runners.image_runners import (
    Image2AlignmentRunner,
    Image2EmbeddingRunner,
    Image2ImageRunner,
    Image2MultiRegionSegmentationRunner,
    Image2SegmentationRunner,
    Segmentation2SegmentationRunner,
)
from compox_ray.runners.io_schemas import (
    AlignmentSchema,
    DataSchema,
    EmbeddingSchema,
    GenericSchema,
    ImageSchema,
    MeshSchema,
    SegmentationSchema,
    VolumeSchema,
)
from compox_ray.runners.local_context import LocalRunContext
from compox_ray.runners.temp_store import TempStore
from compox_ray.runners.training_dataset import TrainingDataset, TrainingSample

__all__ = [
    "AlignmentSchema", "BaseRunner", "DataSchema", "EmbeddingSchema", "GenericSchema", "Image2AlignmentRunner",
    "Image2EmbeddingRunner", "Image2ImageRunner", "Image2MultiRegionSegmentationRunner", "Image2SegmentationRunner",
    "ImageSchema", "LocalRunContext", "MeshSchema", "PackageAssets", "RunContext", "RunStopped",
    "Segmentation2SegmentationRunner", "SegmentationSchema", "TempStore", "TrainingDataset", "TrainingSample",
    "VolumeSchema", "current_context", "use_context",
]
