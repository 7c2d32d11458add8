"""The stack's output names: the stack writes them, `traygo submit` reads them (no CDK needed)."""

from __future__ import annotations

API_URL = "ApiUrl"
API_KEY_ID = "ApiKeyId"
BUCKET = "BucketName"
JOB_QUEUE = "JobQueueArn"
STATE_MACHINE = "StateMachineArn"
JOB_DEFINITIONS = {
    "scrape": "ScrapeJobDefinitionArn",
    "background": "BackgroundJobDefinitionArn",
    "train": "TrainJobDefinitionArn",
    "promote": "PromoteJobDefinitionArn",
}
