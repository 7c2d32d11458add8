"""The Step Functions state machine for a new backbone: tune it, then train and promote every
label on it.

Execution input: {"labels": ["pizza", "burger", ...]} (built by `traygo submit tune`: every
configured label, or those named). The first step runs the tune job (`traygo backbone tune
--make-current --resume`), which publishes a new backbone version and makes it current only
when it beats its parent on held-out photos; else it fails, and so the execution ends in
TuneFailed before any head is trained on a backbone that is not current. Then a Map runs, per
label, the pipeline's own train and promote jobs (new heads train on the current backbone;
promotion goes through the gate as in the per-label pipeline), mapConcurrency labels at once.

Every step is a Batch `.sync` task ending in its own Fail state (TuneFailed, TrainFailed,
PromoteFailed, cause the failed job's description), built from infra/batch_steps.py like the
per-label pipeline. A failed label fails the Map, which stops the other labels' iterations; the
execution says which step failed. The labels left on the old backbone can be retrained with
`traygo submit pipeline` (running this machine again would tune another backbone first).
"""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import timeouts
from infra.batch_jobs import BatchJobs
from infra.batch_steps import batch_state_machine, batch_task, end_on_failure, path

STEPS = ("Tune", "Train", "Promote")


class BackbonePipeline(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        jobs: BatchJobs,
        map_concurrency: int,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.state_machine = batch_state_machine(
            self,
            self._steps(jobs, map_concurrency),
            timeout=timeouts.backbone_pipeline_timeout(map_concurrency),
            log_retention_days=log_retention_days,
            part="backbone-pipeline",
        )

    def _steps(self, jobs: BatchJobs, map_concurrency: int) -> sfn.IChainable:
        tune = batch_task(self, jobs, "Tune", "tune", {})
        end_on_failure(self, "Tune", tune)
        every_label = sfn.Map(
            self,
            "TrainEveryLabel",
            items_path="$.labels",
            item_selector={"label": sfn.JsonPath.string_at("$$.Map.Item.Value")},
            max_concurrency=map_concurrency,
            result_path=sfn.JsonPath.DISCARD,
        )
        # No catch on the Map: a label's TrainFailed or PromoteFailed is the Map's error, and
        # so the execution's.
        every_label.item_processor(self._train_and_promote(jobs))
        return tune.next(every_label).next(sfn.Succeed(self, "Done"))

    def _train_and_promote(self, jobs: BatchJobs) -> sfn.IChainable:
        """One label's iteration: the per-label pipeline's last two steps, with its jobs."""
        train = batch_task(self, jobs, "Train", "train", {"label": path("$.label")})
        promote = batch_task(self, jobs, "Promote", "promote", {"label": path("$.label")})
        end_on_failure(self, "Train", train)
        end_on_failure(self, "Promote", promote)
        return train.next(promote)
