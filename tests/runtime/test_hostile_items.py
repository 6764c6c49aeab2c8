"""Item blobs that reach past their own bytes and arrive without the upload check (written straight
into the blob store, as a presigned PUT or an S3 client can) are refused again where runners and
trainings read them: the run ends FAILED with the reason in its log, and the replica serves on."""

from __future__ import annotations

import numpy as np
import pytest

from compox_ray.storage.blobs import open_blob_store
from compox_ray.storage.file_records import file_blob_key
from tests.api.algorithm_packages import deployed, unique_name
from tests.factories.hdf5_files import HOSTILE_HDF5, hdf5_bytes, hostile_hdf5_bytes
from tests.factories.packages import make_algorithm_package
from tests.runtime.conftest import execute, upload_slices, wait_for, wait_for_record

SLICE = np.arange(64, dtype=np.float32).reshape(8, 8)


@pytest.fixture(params=["local", "s3"])
def runtime(request):
    """(server, client, algorithm ids) on the local and the S3 store."""
    server = request.getfixturevalue("local_server" if request.param == "local" else "s3_app_server")
    algorithms = request.getfixturevalue("algorithms" if request.param == "local" else "s3_algorithms")
    with server.client() as client:
        yield server, client, algorithms


def replace_blob(server, file_id: str, data: bytes) -> None:
    """Overwrite a recorded file's bytes behind the server's back."""
    open_blob_store(server.settings).write_bytes(file_blob_key(file_id), data)


@pytest.mark.parametrize("kind", ["external_storage", "external_storage_dev_zero", "declared_100_gb_gzip",
                                  "external_link", "virtual_dataset", "unknown_filter"])
def test_an_execution_reading_a_hostile_blob_ends_failed_with_the_reason(runtime, kind):
    server, client, algorithms = runtime
    good, hostile = upload_slices(client, [SLICE, SLICE])
    # Aimed at the server's SQLite file: without the check the runner would read it as the input.
    replace_blob(server, hostile, hostile_hdf5_bytes(kind, target=str(server.settings.database_path)))
    record = wait_for(client, execute(client, algorithms["invert"], [good, hostile]))
    assert record["status"] == "FAILED", record
    assert f"Input file {hostile} is refused" in record["log"] and HOSTILE_HDF5[kind][1] in record["log"]
    assert record["output_dataset_ids"] == [] and record["progress"] == 1.0
    # The replica is fine afterwards.
    assert wait_for(client, execute(client, algorithms["invert"], [good]))["status"] == "COMPLETED"


TEMP_STORE_TRAINER = '''
from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner
from compox.algorithm_utils.io_schemas import ImageSchema


class Runner(Image2ImageRunner):
    def inference(self, data, args=None):
        return data

    def train(self, training_data, args=None):
        dataset = self.get_training_dataset(training_data)
        local = self.download_dataset_to_temp_store(dataset, {"input": ImageSchema})
        self.log_message(f"read {len(local)} sample(s)")
        self.save_checkpoint({}, {})
'''


def test_a_training_reading_a_hostile_blob_ends_failed_with_the_reason(local_server, tmp_path):
    with local_server.client() as client:
        package = make_algorithm_package(tmp_path, name=unique_name(), runner=TEMP_STORE_TRAINER,
                                         training_resources={"num_gpus": 0.125, "num_cpus": 0})
        algorithm_id = deployed(client, package)["algorithm_id"]
        files = [client.post("/api/v0/files", content=hdf5_bytes()).json()["file_id"] for _ in range(2)]
        sample = client.post("/api/v0/sample", json={"files": [{"input": files}]}).json()["sample_id"]
        replace_blob(local_server, files[1], hostile_hdf5_bytes("external_storage_dev_zero"))
        response = client.post("/api/v0/train-algorithm", json={"algorithm_id": algorithm_id,
                                                                 "training_data": [sample]})
        assert response.status_code == 200, response.text
        record = wait_for_record(client, f"/api/v0/training/{response.json()['training_id']}", timeout_s=180)
        assert record["status"] == "FAILED", record
        assert f"Input file {files[1]} is refused" in record["log"] and "external storage" in record["log"]
        assert record["output_checkpoint_ids"] == []
