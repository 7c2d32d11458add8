"""Stop a pipeline execution and every Batch job it started that is still going.

On AWS, stopping an execution makes Step Functions terminate the job its `.sync` task waits on
(the state machine's role may batch:TerminateJob). This does it from the operator's side too,
so nothing is left billing when that did not happen (an execution started before the permission
existed, or a job submitted just as the execution stopped), and it says what it stopped.
"""

from __future__ import annotations

import json
from typing import Any

from infra.deployed import aws_errors, client

_FINISHED = {"SUCCEEDED", "FAILED"}


def jobs_started_by(execution_arn: str) -> list[str]:
    """The Batch job ids the execution's tasks submitted, from its history."""
    pages = client("stepfunctions").get_paginator("get_execution_history")
    ids = []
    with aws_errors("reading the execution's history"):
        for page in pages.paginate(executionArn=execution_arn):
            for event in page["events"]:
                job_id = _job_id(event)
                if job_id:
                    ids.append(job_id)
    return ids


def _job_id(event: dict[str, Any]) -> str | None:
    details = event.get("taskSubmittedEventDetails")
    if not details or details.get("resourceType") != "batch":
        return None
    try:
        output = json.loads(details.get("output") or "{}")
    except ValueError:
        return None
    job_id = output.get("JobId") or output.get("jobId")
    return str(job_id) if job_id else None


def abort(execution_arn: str, reason: str) -> list[str]:
    """Stop the execution (if running) and terminate its unfinished jobs; their ids."""
    sfn, batch = client("stepfunctions"), client("batch")
    with aws_errors("stopping the execution"):
        if sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING":
            sfn.stop_execution(executionArn=execution_arn, error="Aborted", cause=reason)
    ids = jobs_started_by(execution_arn)
    if not ids:
        return []
    with aws_errors("terminating its jobs"):
        jobs = batch.describe_jobs(jobs=ids)["jobs"]
        running = [j["jobId"] for j in jobs if j["status"] not in _FINISHED]
        for job_id in running:
            batch.terminate_job(jobId=job_id, reason=reason)
    return running
