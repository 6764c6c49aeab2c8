"""Wire models: field names follow Compox 3.2.0, which existing clients rely on."""

from __future__ import annotations

from pydantic import BaseModel, model_validator

from compox_ray.storable_json import storable_json_problem


class RequestBody(BaseModel):
    """A JSON request body; 422 unless every value in it can be stored and answered again
    (storable_json.py: no lone surrogates, NaN, Infinity or deep nesting anywhere in it). Numbers
    in ``additional_parameters`` are judged by the algorithm's parameter schema instead
    (algorithms/parameters.py: 422 invalid_parameters, naming the parameter)."""

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data):
        rest = {k: v for k, v in data.items() if k != "additional_parameters"} if isinstance(data, dict) else data
        if problem := storable_json_problem(data, numbers=False) or storable_json_problem(rest):
            raise ValueError(problem)
        return data


class ResponseMessage(BaseModel):
    detail: str | None = None


class ErrorBody(BaseModel):
    detail: str | list
    code: str
    retryable: bool = False
    details: dict | None = None


class RootMessage(BaseModel):
    name: str
    tags: list[str]
    group: str
    organization: str
    domain: str
    version: str
    cuda_available: bool | None = None
    cuda_capable_devices_count: int | None = None


class FileUploadResponse(BaseModel):
    file_id: str


class UrlResponse(BaseModel):
    url: str


class IncomingExecutionRequest(RequestBody):
    algorithm_id: str
    input_dataset_ids: list[str]
    checkpoint_id: str | None = None
    algorithm_minor_version: str | None = None
    execution_device_override: str | None = None
    additional_parameters: dict = {}
    session_token: str | None = None


class ExecutionResponse(BaseModel):
    execution_id: str


class ExecutionRecord(BaseModel):
    execution_id: str
    algorithm_id: str
    checkpoint_id: str | None = None
    algorithm_minor_version: str | None = None
    input_dataset_ids: list[str]
    execution_device_override: str | None = None
    resolved_execution_device: str | None = None
    additional_parameters: dict
    session_token: str | None
    output_dataset_ids: list[str]
    status: str
    progress: float
    time_started: str
    time_completed: str  # "" until it ends, as in Compox
    log: str
    queue_position: int | None = None  # executions ahead of this one while PENDING


class IncomingSampleRequest(RequestBody):
    files: list[dict[str, list[str]]]
    tags: list[str] = []


class SampleResponse(BaseModel):
    sample_id: str


class SampleRecord(BaseModel):
    sample_id: str
    files: list[dict[str, list[str]]]
    tags: list[str] = []
    time_created: str


class IncomingTrainingRequest(RequestBody):
    algorithm_id: str
    training_data: list[str]
    checkpoint_id: str | None = None
    algorithm_minor_version: str | None = None
    tags: list[str] = []
    additional_parameters: dict | None = None


class TrainingResponse(BaseModel):
    training_id: str


class TrainingRecord(BaseModel):
    training_id: str
    algorithm_id: str
    status: str
    progress: float
    time_started: str
    time_completed: str | None = None  # null until it ends, as in Compox
    log: str | None = None
    training_data: list[str]
    additional_parameters: dict | None = None
    state: dict
    tags: list[str] = []
    checkpoint_id: str | None = None
    algorithm_minor_version: str | None = None
    output_checkpoint_ids: list[str] = []


class AlgorithmCheckpointRecord(BaseModel):
    checkpoint_id: str
    training_id: str
    parent_algorithm_id: str
    created_at: str
    properties: dict
    tags: list[str] = []
    parent_checkpoint_id: str | None = None
    algorithm_minor_version: str | None = None


class IncomingBenchmarkRequest(RequestBody):
    algorithm_id: str
    algorithm_minor_version: str | None = None
    execution_device_override: str | None = None
    additional_parameters: dict = {}


class BenchmarkResponse(BaseModel):
    benchmark_id: str


class BenchmarkRecord(BaseModel):
    benchmark_id: str
    algorithm_id: str
    algorithm_minor_version: str | None = None
    additional_parameters: dict
    execution_device_override: str | None = None
    resolved_execution_device: str | None = None
    status: str
    progress: float
    time_started: str
    time_completed: str  # "" until it ends, as an execution's
    log: str
    data: dict = {}  # what the package's benchmark() measured, once COMPLETED
