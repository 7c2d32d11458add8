"""The one traygo stack: storage, network, Batch jobs, the two pipelines (per label, and a new
backbone for every label), scheduled retrain and inference API.

The stack composes the constructs and hands each the settings it needs; each construct
acknowledges its own reviewed cdk-nag findings next to the resources they excuse.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

from aws_cdk import App, CfnOutput, Stack, Validations
from constructs import Construct

from infra import outputs
from infra.backbone_pipeline import BackbonePipeline
from infra.batch_jobs import BatchJobs, JobsProps
from infra.inference_api import ApiProps, InferenceApi
from infra.network import Network
from infra.pipeline import Pipeline
from infra.retrain import FeedbackRetrain
from infra.settings import StackSettings
from infra.storage import Storage

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

P = TypeVar("P", bound="DataclassInstance")


class TraygoStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: StackSettings, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        self.storage = Storage(
            self, "Storage", feedback_retention_days=settings.feedback_retention_days
        )
        self.network = Network(self, "Network", log_retention_days=settings.log_retention_days)
        self.jobs = BatchJobs(
            self,
            "Jobs",
            props=props_from(settings, JobsProps),
            network=self.network,
            storage=self.storage,
        )
        self.pipeline = Pipeline(
            self,
            "Pipeline",
            jobs=self.jobs,
            map_concurrency=settings.map_concurrency,
            log_retention_days=settings.log_retention_days,
        )
        self.backbone_pipeline = BackbonePipeline(
            self,
            "BackbonePipeline",
            jobs=self.jobs,
            map_concurrency=settings.map_concurrency,
            log_retention_days=settings.log_retention_days,
        )
        self.retrain = FeedbackRetrain(
            self, "FeedbackRetrain", jobs=self.jobs, schedule=settings.feedback_retrain_schedule
        )
        self.inference = InferenceApi(
            self, "Inference", props=props_from(settings, ApiProps), storage=self.storage
        )
        self._outputs()

    def _outputs(self) -> None:
        values = {
            outputs.API_URL: self.inference.api.url,
            outputs.API_KEY_ID: self.inference.api_key.key_id,
            outputs.BUCKET: self.storage.bucket.bucket_name,
            outputs.JOB_QUEUE: self.jobs.queue.job_queue_arn,
            outputs.STATE_MACHINE: self.pipeline.state_machine.state_machine_arn,
            outputs.BACKBONE_PIPELINE: self.backbone_pipeline.state_machine.state_machine_arn,
            outputs.RETRAIN_RULE: self.retrain.rule.rule_name,
        }
        for name, key in outputs.JOB_DEFINITIONS.items():
            values[key] = self.jobs.definitions[name].job_definition_arn
        for key, value in values.items():
            CfnOutput(self, key, value=value)


def props_from(settings: StackSettings, kind: type[P]) -> P:
    """A construct's props: the stack settings of the same names, so each is written once."""
    return kind(**{f.name: getattr(settings, f.name) for f in fields(kind)})


def add_nag_checks(app: App) -> None:
    """cdk-nag's AwsSolutions pack as a policy-validation plugin: findings fail the synth."""
    from cdk_nag import AwsSolutionsChecks

    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
