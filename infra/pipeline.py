"""The Step Functions state machine for one label: the background pool if the store lacks it,
then scrape the label's queries (Map), train, promote.

Execution input: {"label": "pizza", "queries": ["pizza", "pizza slice", ...]} (built by
`traygo submit pipeline` from the label config). The first step needs none of it: it runs the
background job with `--if-missing`, which scrapes the pool only when the store lacks it (and
else ends at once), so every execution, however started, trains with the pool. Every step is a
Batch `.sync` task; a failure goes to that step's Fail state (error BackgroundFailed,
ScrapeFailed, TrainFailed or PromoteFailed, cause the failed job's description), so nothing
after it (above all, the promotion) runs.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra import timeouts
from infra.batch_jobs import BatchJobs
from infra.log_groups import log_group, vended_logs_name
from infra.nag import LOG_DELIVERY, NO_RESOURCE_LEVEL, STACK_ARN, XRAY, Grant, acknowledge_grant

STEPS = ("Background", "Scrape", "Train", "Promote")


def failed_state(step: str) -> str:
    """The Fail state for a step; its name is also the execution's error (e.g. TrainFailed)."""
    return f"{step}Failed"


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
        definition = self._steps(jobs, map_concurrency)
        stack = Stack.of(self)
        logs = log_group(
            self,
            "Logs",
            log_retention_days,
            name=vended_logs_name("states", stack.stack_name, "pipeline"),
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=timeouts.pipeline_timeout(map_concurrency),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=logs, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        for statement in _stop_what_it_started(stack):
            self.state_machine.add_to_role_policy(statement)
        _acknowledge_role_wildcards(self.state_machine.role)

    def _steps(self, jobs: BatchJobs, map_concurrency: int) -> sfn.IChainable:
        # A literal, not from the input: an execution started by hand or by a schedule, without
        # `traygo submit`, still gets the pool.
        background = self._job(jobs, "ScrapeBackground", "background", {"when": "--if-missing"})
        scrape = sfn.Map(
            self,
            "ScrapeQueries",
            items_path="$.queries",
            item_selector={"query": sfn.JsonPath.string_at("$$.Map.Item.Value")},
            max_concurrency=map_concurrency,
            result_path=sfn.JsonPath.DISCARD,
        )
        scrape.item_processor(self._job(jobs, "Scrape", "scrape", {"query": _path("$.query")}))
        train = self._job(jobs, "Train", "train", {"label": _path("$.label")})
        promote = self._job(jobs, "Promote", "promote", {"label": _path("$.label")})
        steps: tuple[sfn.Map | tasks.BatchSubmitJob, ...] = (background, scrape, train, promote)
        for name, step in zip(STEPS, steps, strict=True):
            # The error says which step failed (a States.* name cannot be re-raised); the
            # cause is the failed step's own (for Batch, the failed job's description).
            failed = sfn.Fail(
                self, failed_state(name), error=failed_state(name), cause_path="$.failure.Cause"
            )
            step.add_catch(failed, result_path="$.failure")
        chain = background.next(scrape).next(train).next(promote)
        return chain.next(sfn.Succeed(self, "Done"))

    def _job(
        self, jobs: BatchJobs, state_id: str, name: str, params: dict[str, str]
    ) -> tasks.BatchSubmitJob:
        """A `.sync` Batch task; `params` are the job's Batch parameters (literals, or paths
        into the state's input made with _path)."""
        return tasks.BatchSubmitJob(
            self,
            state_id,
            job_name=f"traygo-{name}",
            job_queue_arn=jobs.queue.job_queue_arn,
            job_definition_arn=jobs.definitions[name].job_definition_arn,
            payload=sfn.TaskInput.from_object(dict(params)),
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            result_path=sfn.JsonPath.DISCARD,
        )


def _path(path: str) -> str:
    return sfn.JsonPath.string_at(path)


def _stop_what_it_started(stack: Stack) -> list[iam.PolicyStatement]:
    """What `.sync` needs beyond SubmitJob (which CDK grants): follow the job, and terminate it
    when the execution is stopped or a task times out; else the job runs on, and bills."""
    jobs = stack.format_arn(service="batch", resource="job", resource_name="*")
    return [
        iam.PolicyStatement(actions=["batch:TerminateJob"], resources=[jobs]),
        # DescribeJobs has no resource-level permissions (service authorization reference).
        iam.PolicyStatement(actions=["batch:DescribeJobs"], resources=["*"]),
    ]


def _acknowledge_role_wildcards(role: iam.IRole) -> None:
    acknowledge_grant(
        role,
        Grant("*", (*LOG_DELIVERY, *XRAY, "batch:DescribeJobs")),
        "CloudWatch Logs delivery, X-Ray tracing and following its Batch jobs: "
        + NO_RESOURCE_LEVEL,
    )
    batch_arn = STACK_ARN.format(service="batch")
    acknowledge_grant(
        role,
        Grant(f"{batch_arn}:job-definition/*", ("batch:SubmitJob",)),
        "CDK's .sync grant: the definition's ARN carries a revision that changes on every "
        "deploy; SubmitJob also needs the queue, and only this stack's queue is granted",
    )
    acknowledge_grant(
        role,
        Grant(f"{batch_arn}:job/*", ("batch:TerminateJob",)),
        "job ids are made at submit time; Step Functions terminates the jobs its execution "
        "started when the execution is stopped or a task times out",
    )
