"""The scheduled retrain: an EventBridge rule that submits the `retrain` job.

That job definition (infra/batch_jobs.py) runs `train --all-labels --promote --if-new-feedback`
with its own role, train's grants plus the live pointers, since each label is promoted when its
gate passes. The job decides whether there is anything to do (new corrections since each
label's live version was trained) and ends at once when there is not, so a nightly schedule
costs one short job on a quiet night. The rule is always deployed, disabled unless
`feedbackRetrainSchedule` names a schedule, so turning it on is a redeploy with that setting or
`aws events enable-rule` (which lasts until a deploy that updates the rule).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from infra.batch_jobs import BatchJobs

DEFAULT_SCHEDULE = "cron(0 3 * * ? *)"  # nightly at 03:00 UTC, when nobody eats
JOB_NAME = "traygo-retrain"
# EventBridge's retries of the SubmitJob call itself (throttling, a queue being updated); a
# submission still failing an hour later waits for the next scheduled run.
DELIVERY_RETRIES = 4
DELIVERY_MAX_AGE = Duration.hours(1)


class FeedbackRetrain(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, jobs: BatchJobs, schedule: str | None
    ) -> None:
        super().__init__(scope, construct_id)
        retrain = jobs.definitions["retrain"]
        self.rule = events.Rule(
            self,
            "Rule",
            description="traygo: retrain every label on new feedback "
            f"({'on' if schedule else 'off: set feedbackRetrainSchedule or enable the rule'})",
            schedule=events.Schedule.expression(schedule or DEFAULT_SCHEDULE),
            enabled=schedule is not None,
        )
        # CDK makes the rule's role: batch:SubmitJob on this queue and this definition only.
        self.rule.add_target(
            targets.BatchJob(
                jobs.queue.job_queue_arn,
                jobs.queue,
                retrain.job_definition_arn,
                retrain,
                job_name=JOB_NAME,
                retry_attempts=DELIVERY_RETRIES,
                max_event_age=DELIVERY_MAX_AGE,
            )
        )
