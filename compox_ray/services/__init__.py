"""Operations behind the routes, callable without HTTP (client, CLI, tests)."""

from __future__ import annotations

from dataclasses import dataclass

from compox_ray.services.algorithms import AlgorithmService
from compox_ray.services.benchmarks import BenchmarkService
from compox_ray.services.checkpoints import CheckpointService
from compox_ray.services.executions import ExecutionService
from compox_ray.services.files import FileService
from compox_ray.services.object_transfers import ObjectTransferService
from compox_ray.services.samples import SampleService
from compox_ray.services.trainings import TrainingService
from compox_ray.settings import Settings
from compox_ray.singletons import singleton
from compox_ray.storage.blobs import BlobStore, open_blob_store
from compox_ray.storage.record_reads import Records
from compox_ray.storage.records_actor import RecordStore


@dataclass
class Services:
    settings: Settings
    records: Records  # the RecordStore's handle
    blobs: BlobStore
    files: FileService
    algorithms: AlgorithmService
    executions: ExecutionService
    samples: SampleService
    trainings: TrainingService
    checkpoints: CheckpointService
    transfers: ObjectTransferService
    benchmarks: BenchmarkService

    @classmethod
    def start(cls, settings: Settings) -> Services:
        """Find or create the singleton actors and build the services of one Api replica."""
        from compox_ray.runtime.dispatcher import Dispatcher
        from compox_ray.runtime.housekeeper import Housekeeper
        from compox_ray.runtime.sessions import SessionManager
        from compox_ray.runtime.training_supervisor import TrainingSupervisor

        records = Records(singleton(RecordStore, settings, "records"), settings)
        blobs = open_blob_store(settings)
        singleton(Housekeeper, settings, "housekeeper").start.remote()
        singleton(SessionManager, settings, "sessions")
        dispatcher = singleton(Dispatcher, settings, "dispatcher")
        dispatcher.start.remote()
        supervisor = singleton(TrainingSupervisor, settings, "training_supervisor")
        supervisor.start.remote()
        algorithms = AlgorithmService(settings, records, blobs)
        checkpoints = CheckpointService(records, blobs)
        transfers = ObjectTransferService(settings, records, blobs)
        executions = ExecutionService(records, dispatcher, algorithms, checkpoints, settings.gpu_runners,
                                      transfers=transfers, blobs=blobs)
        return cls(settings=settings, records=records, blobs=blobs,
                   files=FileService(settings, records, blobs, transfers), algorithms=algorithms,
                   executions=executions, samples=SampleService(records, transfers),
                   trainings=TrainingService(records, supervisor, algorithms, checkpoints),
                   checkpoints=checkpoints, transfers=transfers,
                   benchmarks=BenchmarkService(records, dispatcher, algorithms, executions))
