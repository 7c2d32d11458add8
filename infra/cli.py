"""`traygo submit`: start the deployed stack's jobs (Batch) or pipelines (Step Functions).

The queue, job definitions and state machines come from the stack's CloudFormation outputs, so
the only thing to know is the stack name (--stack, TRAYGO_STACK, default "traygo").
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

import click
from rich.console import Console

from infra.abort import abort as abort_execution
from infra.deployed import Deployed, SubmitError, aws_errors, client, find_stack
from infra.follow import State, describe, wait
from traygo import config
from traygo.background import pool_status
from traygo.errors import TraygoError
from traygo.labels import Label, get_label, load_background, load_labels
from traygo.slug import slugify
from traygo.store import open_store

_console = Console(stderr=True)


def _follow_options(func: click.decorators.FC) -> click.decorators.FC:
    func = click.option(
        "--interval",
        type=click.FloatRange(min=0.0),
        default=15.0,
        show_default=True,
        help="Seconds between status checks with --wait.",
    )(func)
    return click.option(
        "--wait", "wait_", is_flag=True, help="Follow until it ends; exit non-zero on failure."
    )(func)


@click.group("submit")
def app() -> None:
    """Start scrape or train jobs, or a whole pipeline, on the deployed stack."""


@app.command()
@click.option("--label", help="Scrape every query of this label (see traygo/labels.toml).")
@click.option("--query", "queries", multiple=True, help="Scrape only this query (repeatable).")
@click.option(
    "--background",
    is_flag=True,
    help="One background job: the pool of the labels file in the job's image.",
)
@click.option(
    "--if-missing/--always",
    "if_missing",
    default=None,
    help="With --background: only if the bucket lacks the pool (--if-missing, as the pipeline "
    "does), or every pool query (--always, the default).",
)
@config.option("labels_file", "--labels-file")
@config.option("stack")
@_follow_options
def scrape(
    label: str | None,
    queries: tuple[str, ...],
    background: bool,
    if_missing: bool | None,
    labels_file: str | None,
    stack: str,
    wait_: bool,
    interval: float,
) -> None:
    """One scrape job per query of LABEL (or per --query), or one for the background pool."""
    if [bool(label), bool(queries), background].count(True) != 1:
        raise click.UsageError("give --label, --query (one or more) or --background: one of them")
    if if_missing is not None and not background:
        raise click.UsageError("--if-missing and --always go with --background")
    if background:
        when = "--if-missing" if if_missing else "--always"
        deployed = find_stack(stack)
        what = f"background pool, {when.removeprefix('--')}"
        job_id = _submit_job(deployed, "background", "scrape-background", {"when": when}, what)
        _finish([job_id], wait_, interval)
        return
    chosen = list(queries) or list(get_label(str(label), labels_file).queries)
    for query in chosen:
        _check_query(query)
    deployed = find_stack(stack)
    ids = [
        _submit_job(deployed, "scrape", f"scrape-{slugify(q)}", {"query": q}, f"query {q!r}")
        for q in chosen
    ]
    _finish(ids, wait_, interval)


@app.command()
@click.option("--label", required=True, help="The label to train (see traygo/labels.toml).")
@click.option(
    "--min-accuracy",
    type=click.FloatRange(0.0, 1.0),
    help="Promotion gate for this run (default: the job definition's).",
)
@config.option("labels_file", "--labels-file")
@config.option("stack")
@_follow_options
def train(
    label: str,
    min_accuracy: float | None,
    labels_file: str | None,
    stack: str,
    wait_: bool,
    interval: float,
) -> None:
    """One training job for LABEL; it publishes a version, and promotes nothing."""
    get_label(label, labels_file)
    params = {"label": label}
    if min_accuracy is not None:
        params["minAccuracy"] = f"{min_accuracy:g}"
    deployed = find_stack(stack)
    job_id = _submit_job(deployed, "train", f"train-{label}", params, f"label {label!r}")
    _finish([job_id], wait_, interval)


@app.command()
@click.option("--label", required=True, help="The label to scrape, train and promote.")
@config.option("labels_file", "--labels-file")
@config.option("stack")
@_follow_options
def pipeline(label: str, labels_file: str | None, stack: str, wait_: bool, interval: float) -> None:
    """The state machine for LABEL: the background pool if the bucket lacks it, scrape the
    label's queries, train, promote if the gate passed."""
    spec = get_label(label, labels_file)
    deployed = find_stack(stack)
    arn = start_pipeline(deployed, spec)
    click.echo(f"started pipeline for {label}: {arn}")
    click.echo(background_line(deployed, labels_file))
    _finish([arn], wait_, interval)


@app.command()
@click.option(
    "--label",
    "labels",
    multiple=True,
    help="Train and promote only this label on the new backbone (repeatable; default: every "
    "label of the labels file).",
)
@config.option("labels_file", "--labels-file")
@config.option("stack")
@_follow_options
def tune(
    labels: tuple[str, ...], labels_file: str | None, stack: str, wait_: bool, interval: float
) -> None:
    """The backbone pipeline: tune a new backbone on the bucket's images and make it current if
    it beats its parent, then train and promote every label (or each --label) on it."""
    chosen = labels_to_retrain(labels, labels_file)
    deployed = find_stack(stack)
    arn = start_backbone_pipeline(deployed, chosen)
    click.echo(f"started backbone pipeline for {len(chosen)} label(s) ({', '.join(chosen)}): {arn}")
    _finish([arn], wait_, interval)


def labels_to_retrain(names: tuple[str, ...], labels_file: str | None) -> list[str]:
    """The named labels, each once, in order (an unknown one is an error before any AWS call);
    none named: every configured label."""
    for name in names:
        get_label(name, labels_file)
    return list(dict.fromkeys(names)) or list(load_labels(labels_file))


def background_line(deployed: Deployed, labels_file: str | None) -> str:
    """What the pipeline's first step will do about the pool, as far as this machine can tell
    (the step itself decides, from the bucket, with the same rule)."""
    try:
        pool = load_background(labels_file)
        if not pool.queries:
            return "background pool: none configured; the pipeline's first step does nothing"
        store = open_store(f"s3://{deployed.bucket}")
        status = pool_status(store, pool)
    except TraygoError as exc:
        return f"background pool: could not check ({exc}); the pipeline scrapes it if missing"
    if status.present:
        return (
            f"background pool: present in {store.uri}, {status.describe()}; the pipeline leaves it"
        )
    return (
        f"background pool: missing in {store.uri}, {status.describe()}; the pipeline scrapes "
        f"the {len(status.empty)} queries without images first (this run takes longer)"
    )


@app.command()
@click.argument("run_ids", nargs=-1, required=True, metavar="ID...")
@_follow_options
def status(run_ids: tuple[str, ...], wait_: bool, interval: float) -> None:
    """The status of Batch job ids or pipeline execution ARNs (with --wait: until they end)."""
    if wait_:
        _wait(list(run_ids), interval)
        return
    for state in describe(list(run_ids)):
        click.echo(_line(state))


@app.command()
@click.argument("execution_arn", metavar="EXECUTION_ARN")
@click.option("--reason", default="aborted by the operator", show_default=True)
def abort(execution_arn: str, reason: str) -> None:
    """Stop a pipeline execution (either pipeline's) and terminate the Batch jobs it started
    that still run."""
    stopped = abort_execution(execution_arn, reason)
    click.echo(f"stopped {execution_arn}; terminated {len(stopped)} job(s) {' '.join(stopped)}")


def start_pipeline(deployed: Deployed, label: Label) -> str:
    body = {"label": label.name, "queries": list(label.queries)}
    return _start(deployed.state_machine, label.name, body, "starting the pipeline")


def start_backbone_pipeline(deployed: Deployed, labels: list[str]) -> str:
    body = {"labels": labels}
    return _start(deployed.backbone_pipeline, "tune", body, "starting the backbone pipeline")


def _start(machine: str, prefix: str, body: Mapping[str, object], doing: str) -> str:
    # Execution names are unique per machine for 90 days: the start time, to the second.
    name = f"{prefix}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    with aws_errors(doing):
        resp = client("stepfunctions").start_execution(
            stateMachineArn=machine, name=name, input=json.dumps(body)
        )
    return str(resp["executionArn"])


def _submit_job(
    deployed: Deployed, job: str, name: str, parameters: dict[str, str], what: str
) -> str:
    with aws_errors(f"submitting the {job} job"):
        resp = client("batch").submit_job(
            jobName=f"traygo-{name}"[:128],
            jobQueue=deployed.job_queue,
            jobDefinition=deployed.job_definitions[job],
            parameters=parameters,
        )
    click.echo(f"submitted {job} job {resp['jobId']} ({what})")
    return str(resp["jobId"])


def _check_query(query: str) -> None:
    try:
        slugify(query)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--query") from None


def _finish(ids: list[str], wait_: bool, interval: float) -> None:
    if wait_:
        _wait(ids, interval)
    else:
        click.echo(f"follow: traygo submit status {' '.join(ids)} --wait")


def _wait(ids: list[str], interval: float) -> None:
    with _console.status(f"waiting for {len(ids)} run(s)") as spinner:

        def changed(state: State) -> None:
            click.echo(_line(state))
            spinner.update(f"waiting: last {state.id} {state.status}")

        states = wait(ids, interval, changed)
    failed = [s for s in states if not s.ok]
    if failed:
        first = failed[0]
        raise SubmitError(
            f"{len(failed)} of {len(states)} failed; {first.id} {first.status}"
            + (f": {first.detail}" if first.detail else "")
        )
    click.echo(f"all {len(states)} succeeded")


def _line(state: State) -> str:
    return f"{state.id} {state.status}" + (f" ({state.detail})" if state.detail else "")
