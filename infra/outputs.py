"""The stack's output names: the stack writes them, `traygo submit` reads them (no CDK needed)."""

from __future__ import annotations

API_URL = "ApiUrl"
API_KEY_ID = "ApiKeyId"
BUCKET = "BucketName"
JOB_QUEUE = "JobQueueArn"
STATE_MACHINE = "StateMachineArn"  # the per-label pipeline (infra/pipeline.py)
BACKBONE_PIPELINE = "BackbonePipelineArn"  # tune, then every label (infra/backbone_pipeline.py)
RETRAIN_RULE = "FeedbackRetrainRuleName"  # for `aws events enable-rule --name`
JOB_DEFINITIONS = {
    "scrape": "ScrapeJobDefinitionArn",
    "background": "BackgroundJobDefinitionArn",
    "train": "TrainJobDefinitionArn",
    "retrain": "RetrainJobDefinitionArn",  # the scheduled retrain's (infra/retrain.py)
    "promote": "PromoteJobDefinitionArn",
    "tune": "TuneJobDefinitionArn",  # the backbone pipeline's first step
}
