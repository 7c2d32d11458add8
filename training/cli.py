"""`traygo train`: train a label's classifier and publish it to the store."""

from __future__ import annotations

from pathlib import Path

import click

from traygo import config

ARCHITECTURES = ("seed", "default")
QUANTIZATIONS = ("none", "dynamic", "int8")


@click.command("train")
@click.option("--label", required=True, help="Label to train (from the label config).")
@click.option(
    "--images",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder with <label>/ and not_<label>/ subfolders. Default: the store's scraped images.",
)
@config.option("store")
@config.option("cache_dir", "--cache-dir")
@config.option("labels_file", "--labels-file")
@click.option(
    "--arch",
    "architecture",
    type=click.Choice(ARCHITECTURES),
    default="default",
    show_default=True,
    help="seed: the seed's network; default: the team's.",
)
@config.option("epochs")
@config.option("seed")
@click.option(
    "--quantize",
    "quantization",
    type=click.Choice(QUANTIZATIONS),
    default="none",
    show_default=True,
    help="TFLite quantization (float32 input and output kept).",
)
@config.option("min_accuracy")
@click.option("--promote", is_flag=True, help="Make the new version live if it passes the gate.")
@click.option("--resume", is_flag=True, help="Continue this run's checkpoints in the store.")
@click.option(
    "--run-id",
    help="Checkpoint name. Default: $AWS_BATCH_JOB_ID when set, else a hash of the data and "
    "settings.",
)
def app(**options: object) -> None:
    """Train a binary classifier for LABEL, export it to TFLite, and publish it."""
    import logging

    from training.job import TrainRequest, run  # TensorFlow loads only when training

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    request = TrainRequest(
        label=str(options["label"]),
        store=config.store_uri(options["store"]),  # type: ignore[arg-type]
        cache=config.cache_dir(options["cache_dir"]),  # type: ignore[arg-type]
        images=options["images"],  # type: ignore[arg-type]
        architecture=str(options["architecture"]),
        epochs=int(options["epochs"]),  # type: ignore[arg-type]
        seed=int(options["seed"]),  # type: ignore[arg-type]
        quantization=str(options["quantization"]),
        min_accuracy=float(options["min_accuracy"]),  # type: ignore[arg-type]
        promote=bool(options["promote"]),
        resume=bool(options["resume"]),
        run_id=options["run_id"],  # type: ignore[arg-type]
        labels_file=options["labels_file"],  # type: ignore[arg-type]
    )
    result = run(request)
    metrics = result.metadata["metrics"]
    click.echo(f"version {result.version} published to {result.where}")
    balanced = metrics["balanced_accuracy"]
    click.echo(
        f"validation accuracy {metrics['accuracy']:.3f}, "
        f"balanced {'-' if balanced is None else f'{balanced:.3f}'}, "
        f"n={metrics['n']}, threshold {result.metadata['threshold']:.3f}"
    )
    click.echo(result.promotion_message)
