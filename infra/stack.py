"""The one traygo stack: storage, network, Batch jobs, pipeline and inference API."""

from __future__ import annotations

from aws_cdk import App, CfnOutput, Stack, Validations
from constructs import Construct

from infra import outputs
from infra.batch_jobs import BatchJobs
from infra.inference_api import InferenceApi
from infra.nag import suppress_reviewed_findings
from infra.network import Network
from infra.pipeline import Pipeline
from infra.settings import StackSettings
from infra.storage import Storage


class TraygoStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: StackSettings, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.settings = settings
        self.storage = Storage(self, "Storage")
        self.network = Network(self, "Network", log_retention_days=settings.log_retention_days)
        self.jobs = BatchJobs(
            self, "Jobs", settings=settings, network=self.network, storage=self.storage
        )
        self.pipeline = Pipeline(self, "Pipeline", settings=settings, jobs=self.jobs)
        self.inference = InferenceApi(self, "Inference", settings=settings, storage=self.storage)
        self._outputs()
        suppress_reviewed_findings(self)

    def _outputs(self) -> None:
        values = {
            outputs.API_URL: self.inference.api.url,
            outputs.API_KEY_ID: self.inference.api_key.key_id,
            outputs.BUCKET: self.storage.bucket.bucket_name,
            outputs.JOB_QUEUE: self.jobs.queue.job_queue_arn,
            outputs.STATE_MACHINE: self.pipeline.state_machine.state_machine_arn,
        }
        for name, key in outputs.JOB_DEFINITIONS.items():
            values[key] = self.jobs.definitions[name].job_definition_arn
        for key, value in values.items():
            CfnOutput(self, key, value=value)


def add_nag_checks(app: App) -> None:
    """cdk-nag's AwsSolutions pack as a policy-validation plugin: findings fail the synth."""
    from cdk_nag import AwsSolutionsChecks

    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
