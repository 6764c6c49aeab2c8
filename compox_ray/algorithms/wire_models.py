"""Wire models of the algorithm and deploy routes; field names follow Compox 3.2.0."""

from __future__ import annotations

from typing import Optional, Union

from pydantic import BaseModel, Field

from compox_ray.algorithms.manifest import AdditionalParameterSchema


class AlgorithmRegisteredResponse(BaseModel):
    """An algorithm (name + major) with the metadata of its latest minor version."""

    algorithm_id: str
    algorithm_name: str
    algorithm_version: str  # the major version
    algorithm_minor_versions: list[str]
    latest_algorithm_minor_version: str
    algorithm_minor_version: str  # the latest again, for clients older than latest_algorithm_minor_version
    algorithm_type: str
    algorithm_tags: list[str]
    algorithm_description: str
    supported_devices: list[str] = Field(default_factory=list)
    default_device: str
    additional_parameters: list[AdditionalParameterSchema] = Field(default_factory=list)
    training_parameters: list[AdditionalParameterSchema] = Field(default_factory=list)
    benchmark_outputs: list[AdditionalParameterSchema] = Field(default_factory=list)
    removable: bool = False
    exportable: bool = True
    storage_metrics: Optional[dict[str, Union[int, str]]] = None


class AlgorithmDeployResponse(BaseModel):
    algorithm_id: str
    algorithm_name: str
    algorithm_major_version: str
    algorithm_minor_version: str


class DeployResponse(BaseModel):
    deploy_id: str


class DeployRecord(BaseModel):
    deploy_id: str
    status: str  # PENDING -> RUNNING -> COMPLETED | FAILED
    path: str
    algorithm_id: Optional[str] = None
    algorithm_name: Optional[str] = None
    algorithm_major_version: Optional[str] = None
    algorithm_minor_version: Optional[str] = None
    time_started: Optional[str] = None
    time_completed: Optional[str] = None
    log: Optional[str] = None


def registered_response(described: dict) -> AlgorithmRegisteredResponse:
    """From a RecordStore algorithm dict (list_algorithms / get_algorithm / find_algorithm)."""
    manifest = described["manifest"]
    latest = described["latest_minor_version"]
    return AlgorithmRegisteredResponse(
        algorithm_id=described["algorithm_id"], algorithm_name=described["algorithm_name"],
        algorithm_version=described["algorithm_major_version"], algorithm_minor_versions=described["minor_versions"],
        latest_algorithm_minor_version=latest, algorithm_minor_version=latest,
        algorithm_type=manifest["algorithm_type"], algorithm_tags=manifest["tags"],
        algorithm_description=manifest["description"], supported_devices=manifest["supported_devices"],
        default_device=manifest["default_device"], additional_parameters=manifest["additional_parameters"],
        training_parameters=manifest["training_parameters"], benchmark_outputs=manifest.get("benchmark_outputs", []),
        removable=described["removable"], exportable=described["exportable"],
        storage_metrics=described["storage_metrics"])
