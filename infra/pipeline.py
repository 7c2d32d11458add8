"""The Step Functions state machine for one label: the background pool if the store lacks it,
then scrape the label's queries (Map), train, promote.

Execution input: {"label": "pizza", "queries": ["pizza", "pizza slice", ...]} (built by
`traygo submit pipeline` from the label config). The first step needs none of it: it runs the
background job with `--if-missing`, which scrapes the pool only when the store lacks it (and
else ends at once), so every execution, however started, trains with the pool. Every step is a
Batch `.sync` task; a failure goes to that step's Fail state (error BackgroundFailed,
ScrapeFailed, TrainFailed or PromoteFailed, cause the failed job's description), so nothing
after it (above all, the promotion) runs. The pieces are infra/batch_steps.py's, shared with
the backbone pipeline.
"""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra import timeouts
from infra.batch_jobs import BatchJobs
from infra.batch_steps import batch_state_machine, batch_task, end_on_failure, path

STEPS = ("Background", "Scrape", "Train", "Promote")


class Pipeline(Construct):
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
            timeout=timeouts.pipeline_timeout(map_concurrency),
            log_retention_days=log_retention_days,
            part="pipeline",
        )

    def _steps(self, jobs: BatchJobs, map_concurrency: int) -> sfn.IChainable:
        # A literal, not from the input: an execution started by hand or by a schedule, without
        # `traygo submit`, still gets the pool.
        background = batch_task(
            self, jobs, "ScrapeBackground", "background", {"when": "--if-missing"}
        )
        scrape = sfn.Map(
            self,
            "ScrapeQueries",
            items_path="$.queries",
            item_selector={"query": sfn.JsonPath.string_at("$$.Map.Item.Value")},
            max_concurrency=map_concurrency,
            result_path=sfn.JsonPath.DISCARD,
        )
        scrape.item_processor(
            batch_task(self, jobs, "Scrape", "scrape", {"query": path("$.query")})
        )
        train = batch_task(self, jobs, "Train", "train", {"label": path("$.label")})
        promote = batch_task(self, jobs, "Promote", "promote", {"label": path("$.label")})
        steps: tuple[sfn.Map | tasks.BatchSubmitJob, ...] = (background, scrape, train, promote)
        for name, step in zip(STEPS, steps, strict=True):
            end_on_failure(self, name, step)
        chain = background.next(scrape).next(train).next(promote)
        return chain.next(sfn.Succeed(self, "Done"))
