"""Every client operation, written once: generators that yield what they need sent (calls.py) and
return what the method answers. ``Client`` and ``AsyncClient`` expose each as a method of the same
name and signature; the docstrings here are theirs.

Retries: reads repeat after a 503 or a dropped connection; so do uploads (a repeat at worst leaves
an unreferenced file that expires) and deploys (the same content redeploys as the same version).
Executions and trainings repeat too, because each submit carries an ``Idempotency-Key`` the server
honours: a repeat answers the run the first one created. Nothing else repeats, except a request
that never left this machine (no connection could be made).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from compox_ray.client.calls import Batch, Call, Follow, RUN_PATHS
from compox_ray.client.errors import CompoxRayError, run_outcome_error
from compox_ray.client.results import RunResult, checkpoint_table
from compox_ray.runners.hdf5_items import item_bytes

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ArrayOrPath = np.ndarray | Mapping | Path | str


def is_record_id(value) -> bool:
    """A uuid as the server's ids are (a string that is not one names a local file)."""
    return isinstance(value, str) and _UUID.match(value) is not None


def _present(**params) -> dict:
    """Query parameters without the ones left out; booleans as the server reads them."""
    return {name: str(value).lower() if isinstance(value, bool) else value
            for name, value in params.items() if value not in (None, [], ())}


def _item_call(array_or_path: ArrayOrPath, key: str) -> Call:
    if isinstance(array_or_path, (str, Path)):
        path = Path(array_or_path)
        if not path.is_file():
            raise FileNotFoundError(f"{path} is not a file")
        content = path  # an HDF5 item file, sent as it is (streamed from disk)
    elif isinstance(array_or_path, Mapping):
        content = item_bytes(dict(array_or_path))
    else:
        content = item_bytes({key: np.asarray(array_or_path)})
    return Call("POST", "/api/v0/files", content=content, retry=True,
                headers={"Content-Type": "application/octet-stream"})


class Operations:
    # -- the server ---------------------------------------------------------------------------
    def info(self):
        """The server's description (GET /): name, version, tags, cuda_available, GPU count."""
        return (yield Call("GET", "/", retry=True))

    # -- files --------------------------------------------------------------------------------
    def upload(self, array_or_path: ArrayOrPath, key: str = "image"):
        """Upload one item file; answers its file_id. An array becomes an item with one dataset
        named ``key``; a mapping {name: array} an item with those datasets; a path (str or Path)
        is an HDF5 file sent as it is."""
        return (yield _item_call(array_or_path, key))["file_id"]

    def upload_slices(self, volume: np.ndarray, key: str = "image"):
        """Compox's image convention: one item file per 2-D slice along axis 0; answers their ids."""
        answers = yield Batch(tuple(_item_call(plane, key) for plane in np.asarray(volume)))
        return [answer["file_id"] for answer in answers]

    def download(self, file_id: str):
        """One item file's datasets as arrays (strings decoded)."""
        return (yield Call("GET", f"/api/v0/files/{file_id}", retry=True, answer="item"))

    def download_slices(self, file_ids: Sequence[str], key: str | None = None):
        """Stack the items' ``key`` (default: each item's only dataset) along axis 0."""
        items = yield Batch(tuple(Call("GET", f"/api/v0/files/{file_id}", retry=True, answer="item")
                                  for file_id in file_ids))
        return np.stack([np.asarray(item[key] if key else next(iter(item.values()))) for item in items])

    def download_to(self, file_id: str, path: Path | str):
        """Save a file as it is on the server at ``path``; answers the path."""
        return (yield Call("GET", f"/api/v0/files/{file_id}", retry=True, save_to=Path(path)))

    def delete(self, file_id: str):
        """Delete an uploaded or output file (409 while a sample references it)."""
        yield Call("DELETE", f"/api/v0/files/{file_id}", answer="none")

    # -- algorithms ---------------------------------------------------------------------------
    def algorithms(self, tags: Iterable[str] = (), exclude_tags: Iterable[str] = (), algorithm_type: str | None = None,
                   devices: Iterable[str] = ()):
        """Deployed algorithms with every tag of ``tags``, none of ``exclude_tags``, the type and
        any of ``devices`` ("cpu", "gpu", "mps"); ``[]`` when none match."""
        params = _present(positive_tag=list(tags), negative_tag=list(exclude_tags), algorithm_type=algorithm_type,
                          supported_devices=list(devices))
        return (yield Call("GET", "/api/v0/algorithm/all", params=params, retry=True))

    def algorithm(self, name: str, major: int | str | None = None):
        """One algorithm by name (any letter case): the given major version, else the highest."""
        if major is not None:
            return (yield Call("GET", f"/api/v0/algorithm/{name}/{major}", retry=True))
        matches = [a for a in (yield from self.algorithms()) if a["algorithm_name"].lower() == name.lower()]
        if not matches:
            raise CompoxRayError(f"No algorithm named {name!r} is deployed.", code="algorithm_not_found", status=404)
        return max(matches, key=lambda a: int(a["algorithm_version"]) if str(a["algorithm_version"]).isdigit() else -1)

    def _algorithm_ref(self, algorithm: str | Mapping):
        """(algorithm_id, a name for the progress bar) of a name, an id or an algorithm record."""
        if isinstance(algorithm, Mapping):
            return algorithm["algorithm_id"], algorithm.get("algorithm_name", algorithm["algorithm_id"][:8])
        if is_record_id(algorithm):
            return algorithm, algorithm[:8]
        record = yield from self.algorithm(algorithm)
        return record["algorithm_id"], record["algorithm_name"]

    def deploy(self, path: Path | str, *, name: str | None = None, major: int | str | None = None,
               removable: bool | None = None, exportable: bool | None = None):
        """Deploy a package folder (zipped here) or a .zip of one; answers algorithm_id, name, major
        and minor version. The overrides register it under another name or major version."""
        from compox_ray.client.packages import package_archive

        params = _present(algorithm_name=name, algorithm_major_version=major, removable=removable,
                          exportable=exportable)
        with package_archive(path) as archive:
            return (yield Call("POST", "/api/v0/deploy", params=params, content=archive, retry=True,
                               headers={"Content-Type": "application/zip"}, timeout_s=900))

    def export(self, algorithm: str, major: int | str, path: Path | str, *, minor: str | None = None,
               checkpoint: str | None = None):
        """Save the package as a zip at ``path`` (that minor version, else the latest; with a
        checkpoint id, its trained assets in place of the package's); answers the path."""
        params = _present(algorithm_minor_version=minor, checkpoint_id=checkpoint)
        return (yield Call("GET", f"/api/v0/algorithm/{algorithm}/{major}/export", params=params, retry=True,
                           save_to=Path(path)))

    # -- executions ---------------------------------------------------------------------------
    def run(self, algorithm: str | Mapping, inputs, params: dict | None = None, device: str | None = None,
            session: str | None = None, checkpoint: str | None = None, wait: bool = True, *,
            minor: str | None = None, download: bool = True, progress: bool | None = None, on_update=None,
            idempotency_key: str | None = None):
        """Execute ``algorithm`` (a name, an id or a record from ``algorithms()``) on ``inputs``:
        file ids, paths of HDF5 item files, or an array (3-D or more: one item per slice, key
        "image"; else one item). Waits with a progress bar and answers a RunResult (the outputs as
        arrays: ``result["image"]``); ``wait=False`` answers the execution id at once.
        A run that ends FAILED raises RunFailed, STOPPED RunStopped (both with the server's log);
        Ctrl-C while waiting stops the run on the server, then the KeyboardInterrupt goes on.
        ``on_update(record)`` is called with each new state of the run."""
        algorithm_id, label = yield from self._algorithm_ref(algorithm)
        input_ids = yield from self._input_ids(inputs)
        body = {"algorithm_id": algorithm_id, "input_dataset_ids": input_ids, "additional_parameters": params or {},
                "execution_device_override": device, "session_token": session, "checkpoint_id": checkpoint,
                "algorithm_minor_version": minor}
        answer = yield Call("POST", "/api/v0/execute-algorithm", json=body, retry=True,
                            headers={"Idempotency-Key": idempotency_key or str(uuid.uuid4())})
        execution_id = answer["execution_id"]
        if not wait:
            return execution_id
        follow = Follow("execution", execution_id, f"{label} {execution_id[:8]}", progress, on_update)
        return (yield from self._finish(follow, download))

    def _input_ids(self, inputs):
        if isinstance(inputs, np.ndarray):
            if inputs.ndim >= 3:
                return (yield from self.upload_slices(inputs))
            return [(yield from self.upload(inputs))]
        if isinstance(inputs, (str, Path)):
            inputs = [inputs]
        ids, uploads = [], []
        for position, entry in enumerate(inputs):
            if is_record_id(entry):  # a file id; any other string is the path of an item file
                ids.append(entry)
            else:
                ids.append(None)
                uploads.append((position, _item_call(entry, "image")))
        answers = yield Batch(tuple(call for _, call in uploads))
        for (position, _), answer in zip(uploads, answers):
            ids[position] = answer["file_id"]
        return ids

    def _finish(self, follow: Follow, download: bool):
        record = yield follow
        if (error := run_outcome_error(follow.kind, record)) is not None:
            raise error
        if follow.kind == "training":
            return record
        items = []
        if download:
            items = yield Batch(tuple(Call("GET", f"/api/v0/files/{file_id}", retry=True, answer="item")
                                      for file_id in record["output_dataset_ids"]))
        return RunResult(record, list(items))

    def _run_record(self, run_id: str, kind: str | None):
        """(kind, record) of an execution or training id (executions are asked first)."""
        for candidate in ((kind,) if kind else ("execution", "training")):
            try:
                return candidate, (yield Call("GET", f"{RUN_PATHS[candidate]}/{run_id}", retry=True))
            except CompoxRayError as error:
                if kind or error.code != f"{candidate}_record_not_found":
                    raise
        raise CompoxRayError(f"No execution or training {run_id!r} is known to the server.",
                             code="run_not_found", status=404)

    def wait(self, run_id: str, *, kind: str | None = None, download: bool = True, progress: bool | None = None,
             on_update=None):
        """Wait for an execution or training (``kind`` "execution"/"training" saves asking which) to
        end, as ``run``/``train`` do: a RunResult for an execution, the record for a training."""
        kind, record = yield from self._run_record(run_id, kind)
        label = f"{kind} {run_id[:8]}"
        return (yield from self._finish(Follow(kind, run_id, label, progress, on_update), download))

    def status(self, run_id: str, *, kind: str | None = None):
        """The record of an execution or training, as it is now."""
        return (yield from self._run_record(run_id, kind))[1]

    def stop(self, run_id: str, *, kind: str | None = None):
        """Ask an execution or training to stop (a PENDING one ends at once, a running one at its
        next progress or log call); answers the server's message."""
        if kind is None:
            kind, _ = yield from self._run_record(run_id, None)
        return (yield Call("POST", f"{RUN_PATHS[kind]}/{run_id}/stop"))["detail"]

    def executions(self, session: str | None = None, status: str | None = None, limit: int = 100):
        """Executions, newest first: of one session token, with one status."""
        params = _present(session_token=session, status=status, limit=limit)
        return (yield Call("GET", "/api/v0/executions", params=params, retry=True))

    # -- training -----------------------------------------------------------------------------
    def create_sample(self, files: Mapping | Sequence[Mapping], tags: Iterable[str] = ()):
        """A training sample; answers its id. ``files``: {key: file ids} (or a list of such dicts),
        where a value may also be an array, uploaded here (3-D: one item per slice, key "image")."""
        entries = [files] if isinstance(files, Mapping) else list(files)
        resolved = []
        for entry in entries:
            uploaded = {}
            for key, value in entry.items():
                uploaded[key] = yield from self._input_ids(value)
            resolved.append(uploaded)
        return (yield Call("POST", "/api/v0/sample", json={"files": resolved, "tags": list(tags)}))["sample_id"]

    def sample(self, sample_id: str):
        return (yield Call("GET", f"/api/v0/sample/{sample_id}", retry=True))

    def samples(self, tags: Iterable[str] = (), exclude_tags: Iterable[str] = ()):
        """Samples with every tag of ``tags`` and none of ``exclude_tags``."""
        params = _present(positive_tags=list(tags), negative_tags=list(exclude_tags))
        return (yield Call("GET", "/api/v0/sample/all", params=params, retry=True))

    def delete_sample(self, sample_id: str):
        yield Call("DELETE", f"/api/v0/sample/{sample_id}", answer="none")

    def train(self, algorithm: str | Mapping, samples: str | Sequence[str], params: dict | None = None,
              tags: Iterable[str] = (), checkpoint: str | None = None, wait: bool = True, *, minor: str | None = None,
              progress: bool | None = None, on_update=None, idempotency_key: str | None = None):
        """Train ``algorithm`` on sample ids (from ``checkpoint`` if given); waits with a progress bar
        and answers the training record (``output_checkpoint_ids``); ``wait=False`` answers the
        training id. Failures, stops and Ctrl-C as for ``run``."""
        algorithm_id, label = yield from self._algorithm_ref(algorithm)
        body = {"algorithm_id": algorithm_id, "training_data": [samples] if isinstance(samples, str) else list(samples),
                "additional_parameters": params or {}, "tags": list(tags), "checkpoint_id": checkpoint,
                "algorithm_minor_version": minor}
        answer = yield Call("POST", "/api/v0/train-algorithm", json=body, retry=True,
                            headers={"Idempotency-Key": idempotency_key or str(uuid.uuid4())})
        training_id = answer["training_id"]
        if not wait:
            return training_id
        follow = Follow("training", training_id, f"train {label} {training_id[:8]}", progress, on_update)
        return (yield from self._finish(follow, download=False))

    def checkpoint(self, checkpoint_id: str):
        return (yield Call("GET", f"/api/v0/checkpoint/{checkpoint_id}", retry=True))

    def checkpoints(self, tags: Iterable[str] = (), exclude_tags: Iterable[str] = (), *,
                    algorithm: str | Mapping | None = None, training: str | None = None, table: bool = False):
        """Checkpoints with every tag of ``tags`` and none of ``exclude_tags`` (oldest first), of one
        algorithm (name, id or record) or one training if given. ``table=True`` answers a pyarrow
        Table with a column per property, to filter and sort by them."""
        params = _present(positive_tags=list(tags), negative_tags=list(exclude_tags))
        found: list[dict[str, Any]] = yield Call("GET", "/api/v0/checkpoint/all", params=params, retry=True)
        if algorithm is not None:
            algorithm_id, _ = yield from self._algorithm_ref(algorithm)
            found = [c for c in found if c["parent_algorithm_id"] == algorithm_id]
        if training is not None:
            found = [c for c in found if c["training_id"] == training]
        return checkpoint_table(found) if table else found

    def delete_checkpoint(self, checkpoint_id: str):
        yield Call("DELETE", f"/api/v0/checkpoint/{checkpoint_id}", answer="none")
