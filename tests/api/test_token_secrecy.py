"""After an execution and a training on a server with tokens, none of its REST tokens is in a log
file of the Ray session, in the records, or anywhere package code could find it: a witness
package looks through every object of its process (the settings of its runner replica, training
task and deploy-time import check) and its environment, and writes down what it sees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import ray

from tests.api.algorithm_packages import deployed, unique_name
from tests.factories.hdf5_files import hdf5_bytes
from tests.factories.packages import make_algorithm_package
from tests.runtime.conftest import execute, wait_for, wait_for_record

WITNESS_RUNNER = '''
import gc, json, os, threading
from pathlib import Path

from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner

REPORTS = Path({reports!r})


def report(phase):
    """Every settings object of this process, secrets revealed, and the environment."""
    from pydantic import SecretStr
    from compox_ray.settings import Settings

    def reveal(value):
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, (list, tuple)):
            return [reveal(item) for item in value]
        return str(value)

    gc.unfreeze()  # Serve freezes a replica's objects after start: get_objects would skip them
    found = [{{name: reveal(getattr(held, name)) for name in type(held).model_fields}}
             for held in gc.get_objects() if isinstance(held, Settings)]
    path = REPORTS / f"{{phase}}-{{os.getpid()}}-{{threading.get_ident()}}.json"
    path.write_text(json.dumps({{"phase": phase, "pid": os.getpid(), "settings": found, "environ": dict(os.environ)}}))


report("import")  # at the deploy-time check, and wherever a runner or training loads the package


class Runner(Image2ImageRunner):
    def inference(self, data, args=None):
        report("inference")
        return data

    def train(self, training_data, args=None):
        report("train")
        self.save_checkpoint({{"files/weights.txt": b"2"}}, properties={{}})
'''


def rest_tokens(server) -> list[str]:
    tokens = [token.get_secret_value() for token in server.settings.user_tokens + server.settings.admin_tokens]
    assert len(tokens) == 4
    return tokens


@pytest.fixture(scope="module")
def witnessed_runs(secured_server, tmp_path_factory) -> list[dict]:
    """Deploy the witness, run it once and train it once; what its processes saw."""
    reports = tmp_path_factory.mktemp("witness_reports")
    settings = secured_server.settings
    user, admin = settings.user_tokens[0].get_secret_value(), settings.admin_tokens[0].get_secret_value()
    folder = make_algorithm_package(tmp_path_factory.mktemp("witness"), name=unique_name("witness"),
                                    runner=WITNESS_RUNNER.format(reports=str(reports)),
                                    files={"files/weights.txt": "1"},
                                    training_resources={"num_gpus": 0, "num_cpus": 0})
    with secured_server.client(headers={"Authorization": f"Bearer {admin}"}) as client:
        algorithm_id = deployed(client, folder)["algorithm_id"]
    with secured_server.client(headers={"Authorization": f"Bearer {user}"}) as client:
        file_id = client.post("/api/v0/files", content=hdf5_bytes()).json()["file_id"]
        execution = wait_for(client, execute(client, algorithm_id, [file_id]))
        assert execution["status"] == "COMPLETED", execution["log"]
        sample = client.post("/api/v0/sample", json={"files": [{"input": [file_id]}]})
        assert sample.status_code == 200, sample.text
        response = client.post("/api/v0/train-algorithm",
                               json={"algorithm_id": algorithm_id, "training_data": [sample.json()["sample_id"]]})
        assert response.status_code == 200, response.text
        training = wait_for_record(client, f"/api/v0/training/{response.json()['training_id']}", timeout_s=120)
        assert training["status"] == "COMPLETED", training["log"]
    return [json.loads(path.read_text()) for path in sorted(reports.iterdir())]


def test_package_code_finds_settings_without_rest_tokens(secured_server, witnessed_runs):
    phases = {report["phase"] for report in witnessed_runs}
    assert phases == {"import", "inference", "train"}
    # The import check, the runner replica and the training: three processes at least.
    assert len({report["pid"] for report in witnessed_runs if report["phase"] == "import"}) >= 3
    for report in witnessed_runs:
        # The witness did find its process's settings (a search that found none would prove nothing).
        assert any(held["instance"] == "secured" for held in report["settings"]), report["phase"]
        assert all(held["user_tokens"] == [] and held["admin_tokens"] == [] and held["admin_token"] == "None"
                   for held in report["settings"] if held["instance"] == "secured")
        seen = json.dumps(report)
        assert not [token for token in rest_tokens(secured_server) if token in seen], report["phase"]


def test_no_token_in_the_records_or_the_session_logs(secured_server, witnessed_runs):
    tokens = [token.encode() for token in rest_tokens(secured_server)]
    database = secured_server.settings.database_path
    records = [path for path in database.parent.glob(database.name + "*") if path.is_file()]
    assert database in records
    logs_dir = Path(ray._private.worker._global_node.get_logs_dir_path())
    logs = [path for path in logs_dir.rglob("*") if path.is_file()]
    assert any("serve" in path.parts for path in logs)  # Serve's own logs are among them
    leaked = [str(path) for path in records + logs if any(token in path.read_bytes() for token in tokens)]
    assert not leaked
