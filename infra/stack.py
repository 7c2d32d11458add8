"""The one traygo stack: storage, network, Batch jobs, pipeline and inference API.

The stack composes the constructs and hands each the settings it needs; each construct
acknowledges its own reviewed cdk-nag findings next to the resources they excuse.
"""

from __future__ import annotations

from aws_cdk import App, CfnOutput, Stack, Validations
from constructs import Construct

from infra import outputs
from infra.batch_jobs import BatchJobs, JobsProps
from infra.inference_api import ApiProps, InferenceApi
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
            self, "Jobs", props=jobs_props(settings), network=self.network, storage=self.storage
        )
        self.pipeline = Pipeline(
            self,
            "Pipeline",
            jobs=self.jobs,
            map_concurrency=settings.map_concurrency,
            log_retention_days=settings.log_retention_days,
        )
        self.inference = InferenceApi(
            self, "Inference", props=api_props(settings), storage=self.storage
        )
        self._outputs()

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


def jobs_props(settings: StackSettings) -> JobsProps:
    return JobsProps(
        spot=settings.spot,
        max_vcpus=settings.max_vcpus,
        min_accuracy=settings.min_accuracy,
        log_retention_days=settings.log_retention_days,
        base_image=settings.base_image,
        image_source=settings.image_source,
    )


def api_props(settings: StackSettings) -> ApiProps:
    return ApiProps(
        stage=settings.stage,
        lambda_bundle=settings.lambda_bundle,
        lambda_memory_mb=settings.lambda_memory_mb,
        lambda_reserved_concurrency=settings.lambda_reserved_concurrency,
        api_rate_limit=settings.api_rate_limit,
        api_burst_limit=settings.api_burst_limit,
        api_quota_per_day=settings.api_quota_per_day,
        log_retention_days=settings.log_retention_days,
        cors_origins=settings.cors_origins,
    )


def add_nag_checks(app: App) -> None:
    """cdk-nag's AwsSolutions pack as a policy-validation plugin: findings fail the synth."""
    from cdk_nag import AwsSolutionsChecks

    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
