"""Following a Batch job or a Step Functions execution until it ends."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from infra.deployed import SubmitError, aws_errors, client

BATCH_DONE = {"SUCCEEDED", "FAILED"}
EXECUTION_DONE = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@dataclass(frozen=True)
class State:
    id: str
    status: str
    detail: str = ""

    @property
    def done(self) -> bool:
        return self.status in BATCH_DONE | EXECUTION_DONE

    @property
    def ok(self) -> bool:
        return self.status == "SUCCEEDED"


def is_execution(run_id: str) -> bool:
    return run_id.startswith("arn:") and ":states:" in run_id


def describe(run_ids: list[str]) -> list[State]:
    """The current state of each id (Batch job ids and execution ARNs may be mixed)."""
    executions = [i for i in run_ids if is_execution(i)]
    jobs = [i for i in run_ids if not is_execution(i)]
    states = {s.id: s for s in _executions(executions)}
    states.update({s.id: s for s in _jobs(jobs)})
    return [states[i] for i in run_ids]


def _executions(arns: Iterable[str]) -> list[State]:
    sfn = client("stepfunctions")
    result = []
    for arn in arns:
        with aws_errors(f"reading execution {arn}"):
            desc = sfn.describe_execution(executionArn=arn)
        detail = " ".join(x for x in (desc.get("error"), desc.get("cause")) if x)
        result.append(State(arn, desc["status"], detail))
    return result


def _jobs(ids: list[str]) -> list[State]:
    if not ids:
        return []
    with aws_errors("reading Batch jobs"):
        found = client("batch").describe_jobs(jobs=ids)["jobs"]
    by_id = {j["jobId"]: j for j in found}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise SubmitError(f"no Batch job {unknown[0]!r} in this account and region")
    return [State(i, by_id[i]["status"], by_id[i].get("statusReason", "")) for i in ids]


def wait(
    run_ids: list[str],
    interval: float,
    on_change: Callable[[State], None],
    sleep: Callable[[float], None] = time.sleep,
) -> list[State]:
    """Poll until every id has ended, calling `on_change` whenever one's status moves."""
    seen: dict[str, str] = {}
    while True:
        states = describe(run_ids)
        for state in states:
            if seen.get(state.id) != state.status:
                seen[state.id] = state.status
                on_change(state)
        if all(s.done for s in states):
            return states
        sleep(interval)
