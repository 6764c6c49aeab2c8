"""Training samples as algorithms see them (Compox's TrainingSample and TrainingDataset).

A sample is a list of entries, each mapping a key ("input", "target", ...) to file ids:
``{"files": [{"input": [id1, id2], "target": [id3]}, ...]}``. Indexing follows Compox:
``sample[i]`` an entry, ``sample[i, "input"]`` its ids, ``sample[:, "input"]`` every entry's ids
in one list, ``sample[:, :]`` every id; ``dataset[i]`` a sample, ``dataset[:, "input"]`` a list per
sample. The files themselves are read with ``fetch_data`` or the temp-store helpers.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, Field


class SampleManifest(BaseModel):
    sample_id: str
    files: list[dict[str, list[str]]]
    tags: list[str] = Field(default_factory=list)
    time_created: str | None = None


class TrainingSample:
    def __init__(self, sample_manifest: dict | SampleManifest):
        self.sample_manifest = SampleManifest.model_validate(sample_manifest)

    @property
    def sample_id(self) -> str:
        return self.sample_manifest.sample_id

    @property
    def tags(self) -> list[str]:
        return self.sample_manifest.tags

    def get_file_list(self) -> list[dict[str, list[str]]]:
        return self.sample_manifest.files

    def get_key_list(self) -> list[str]:
        return list(self.sample_manifest.files[0]) if self.sample_manifest.files else []

    def key_set(self) -> set[str]:
        return {key for entry in self.sample_manifest.files for key in entry}

    def __len__(self) -> int:
        return len(self.sample_manifest.files)

    def __getitem__(self, key):
        files = self.sample_manifest.files
        if isinstance(key, (int, slice)):
            return files[key]
        if isinstance(key, tuple) and len(key) == 2:
            entries, field = key
            if isinstance(entries, int) and isinstance(field, str):
                return files[entries][field]
            if isinstance(entries, slice) and isinstance(field, str):
                return [file_id for entry in files[entries] for file_id in entry.get(field, [])]
            if isinstance(entries, slice) and field == slice(None):
                return [file_id for entry in files[entries] for ids in entry.values() for file_id in ids]
        raise TypeError(f"unsupported sample index {key!r}")

    def __repr__(self) -> str:
        return f"TrainingSample(sample_id={self.sample_id!r}, entries={len(self)}, keys={self.get_key_list()})"


class TrainingDataset:
    def __init__(self, samples: list[TrainingSample]):
        self.samples: list[TrainingSample] = []
        for sample in samples:
            self.add_sample(sample)

    def add_sample(self, sample: TrainingSample) -> None:
        if self.samples and sample.key_set() != self.samples[0].key_set():
            raise ValueError(f"Inconsistent file keys across samples in the dataset: sample {sample.sample_id} has "
                             f"{sorted(sample.key_set())}, the others {sorted(self.samples[0].key_set())}")
        self.samples.append(sample)

    def get_all_samples(self) -> list[TrainingSample]:
        return list(self.samples)

    def get_sample_by_id(self, sample_id: str) -> TrainingSample | None:
        return next((sample for sample in self.samples if sample.sample_id == sample_id), None)

    def get_sample_keys(self) -> list[str]:
        return self.samples[0].get_key_list() if self.samples else []

    def get_all_file_lists(self) -> list[list[dict[str, list[str]]]]:
        return [sample.get_file_list() for sample in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[TrainingSample]:
        return iter(self.samples)

    def __add__(self, other: TrainingDataset | TrainingSample) -> TrainingDataset:
        if isinstance(other, TrainingSample):
            return TrainingDataset([*self.samples, other])
        if isinstance(other, TrainingDataset):
            return TrainingDataset([*self.samples, *other.samples])
        return NotImplemented

    def __getitem__(self, key):
        if isinstance(key, (int, slice)):
            return self.samples[key]
        if isinstance(key, tuple) and len(key) == 2:
            samples, field = key
            if isinstance(samples, int):
                sample = self.samples[samples]
                return sample[:, field] if isinstance(field, (str, slice)) else sample[field]
            if isinstance(samples, slice):
                return [sample[:, field] if isinstance(field, (str, slice)) else sample[field]
                        for sample in self.samples[samples]]
        raise TypeError(f"unsupported dataset index {key!r}")

    def __repr__(self) -> str:
        return f"TrainingDataset(num_samples={len(self)}, keys={self.get_sample_keys()})"
