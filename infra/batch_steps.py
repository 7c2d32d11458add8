"""What the state machines share: a step is a Batch `.sync` task, a failed step ends the
execution in that step's Fail state, and each machine logs, traces, and stops what it started.

infra/pipeline.py (one label: scrape, train, promote) and infra/backbone_pipeline.py (tune the
backbone, then train and promote every label) are built from these pieces, so the two behave
the same way on failure, on abort and on timeout.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.batch_jobs import BatchJobs
from infra.log_groups import log_group, vended_logs_name
from infra.nag import LOG_DELIVERY, NO_RESOURCE_LEVEL, STACK_ARN, XRAY, Grant, acknowledge_grant


def failed_state(step: str) -> str:
    """The Fail state for a step; its name is also the execution's error (e.g. TrainFailed)."""
    return f"{step}Failed"


def batch_task(
    scope: Construct, jobs: BatchJobs, state_id: str, name: str, params: dict[str, str]
) -> tasks.BatchSubmitJob:
    """A `.sync` Batch task; `params` are the job's Batch parameters (literals, or paths into
    the state's input made with `path`); none: the job definition's own."""
    return tasks.BatchSubmitJob(
        scope,
        state_id,
        job_name=f"traygo-{name}",
        job_queue_arn=jobs.queue.job_queue_arn,
        job_definition_arn=jobs.definitions[name].job_definition_arn,
        payload=sfn.TaskInput.from_object(dict(params)) if params else None,
        integration_pattern=sfn.IntegrationPattern.RUN_JOB,
        # The job's description is not wanted downstream: the next step reads the same input.
        result_path=sfn.JsonPath.DISCARD,
    )


def path(json_path: str) -> str:
    return sfn.JsonPath.string_at(json_path)


def end_on_failure(scope: Construct, step: str, state: sfn.Map | tasks.BatchSubmitJob) -> None:
    """Any error of `state` ends the execution in the step's own Fail state."""
    # The error says which step failed (a States.* name cannot be re-raised); the cause is the
    # failed step's own (for Batch, the failed job's description).
    failed = sfn.Fail(
        scope, failed_state(step), error=failed_state(step), cause_path="$.failure.Cause"
    )
    state.add_catch(failed, result_path="$.failure")


def batch_state_machine(
    scope: Construct,
    definition: sfn.IChainable,
    *,
    timeout: Duration,
    log_retention_days: int,
    part: str,
) -> sfn.StateMachine:
    """The state machine for `definition`, logged (every event, with data) to a vended-logs
    group named after `part`, traced, and allowed to terminate the Batch jobs it started."""
    stack = Stack.of(scope)
    logs = log_group(
        scope, "Logs", log_retention_days, name=vended_logs_name("states", stack.stack_name, part)
    )
    machine = sfn.StateMachine(
        scope,
        "StateMachine",
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        timeout=timeout,
        tracing_enabled=True,
        logs=sfn.LogOptions(destination=logs, level=sfn.LogLevel.ALL, include_execution_data=True),
    )
    for statement in _stop_what_it_started(stack):
        machine.add_to_role_policy(statement)
    _acknowledge_role_wildcards(machine.role)
    return machine


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
