"""Every time limit of the jobs and the pipelines, each derived from the ones below it.

A Batch job attempt is bounded by its job timeout, but not the wait for Fargate capacity before
it starts, so each attempt also gets START_ALLOWANCE. A pipeline step may take every attempt of
its job; the background step scrapes the whole pool in one job (POOL_QUERY_TIME per pool query);
the scrape Map runs its queries in rounds of mapConcurrency, and the backbone pipeline's Map its
labels (each train, then promote) likewise. A pipeline's timeout is the sum of its steps' worst
cases, so it never kills an execution whose jobs would still have succeeded; when it does fire,
Step Functions terminates the running Batch jobs.

The tasks pass no timeout of their own: for a Batch task CDK's taskTimeout becomes the job's
attemptDurationSeconds, which would override the job definition's.
"""

from __future__ import annotations

import math

from aws_cdk import Duration

from traygo.labels import load_background, load_labels

RETRY_ATTEMPTS = 3
START_ALLOWANCE = Duration.minutes(20)  # queue wait, image pull and ENI setup, per attempt
JOB_TIMEOUTS = {
    "scrape": Duration.hours(2),
    "train": Duration.hours(6),
    "promote": Duration.minutes(15),
    # Fine-tuning the backbone on every labelled image and the pool on 4 vCPUs, no GPU. Not
    # measured as a job yet; `make bench-finetune` took 260 s for 6 epochs of 3,214 photos on 2
    # cores, so a store ten times that is about an hour. The rest is headroom, as for train: a
    # stuck attempt bills for at most this, and per-epoch checkpoints let a retry resume.
    "tune": Duration.hours(6),
}
# One pool query in the background job, which scrapes them one after another: a query takes a
# few minutes (three engines, up to 200 sources each); the scrape job's 2 h per query, times the
# pool's 29, would let a stuck job bill for days.
POOL_QUERY_TIME = Duration.minutes(20)


def job_timeout(job: str) -> Duration:
    """One attempt's run time (the job definition's attemptDurationSeconds)."""
    if job == "background":
        return Duration.seconds(max(1, pool_queries()) * POOL_QUERY_TIME.to_seconds())
    return JOB_TIMEOUTS[job]


def step_worst_case(job: str) -> Duration:
    """A pipeline task's limit: every attempt of its job, each with its start allowance."""
    per_attempt = job_timeout(job).to_seconds() + START_ALLOWANCE.to_seconds()
    return Duration.seconds(RETRY_ATTEMPTS * per_attempt)


def max_queries() -> int:
    """The most queries any configured label has (a label added later: redeploy)."""
    return max(len(label.queries) for label in load_labels().values())


def label_count() -> int:
    """The configured labels: the backbone pipeline trains at most every one (a label added
    later: redeploy)."""
    return len(load_labels())


def pool_queries() -> int:
    """The background pool's queries (the job's image scrapes the same shipped config)."""
    return len(load_background().queries)


def pipeline_timeout(map_concurrency: int, queries: int | None = None) -> Duration:
    rounds = math.ceil((queries or max_queries()) / map_concurrency)
    seconds = step_worst_case("background").to_seconds()
    seconds += rounds * step_worst_case("scrape").to_seconds()
    return Duration.seconds(seconds + _train_then_promote())


def backbone_pipeline_timeout(map_concurrency: int, labels: int | None = None) -> Duration:
    """Tune, then every label's train and promote in rounds of mapConcurrency."""
    rounds = math.ceil((labels or label_count()) / map_concurrency)
    return Duration.seconds(step_worst_case("tune").to_seconds() + rounds * _train_then_promote())


def _train_then_promote() -> float:
    """Seconds: one label's last two steps, in both pipelines."""
    return step_worst_case("train").to_seconds() + step_worst_case("promote").to_seconds()
