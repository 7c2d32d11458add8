"""`traygo models`: list versions, promote one, roll back."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from traygo import config
from traygo.errors import RegistryError
from traygo.registry import Registry
from traygo.store import open_store


@click.group("models")
def app() -> None:
    """List model versions, promote one, or roll back."""


@app.command("list")
@config.option("store")
@click.option("--label", help="Only this label.")
def list_models(store: str, label: str | None) -> None:
    """Every version of every label (or one label), with its scores and which is live."""
    registry = Registry(open_store(store))
    table = Table("label", "version", "accuracy", "f1", "n", "live")
    for name in [label] if label else registry.labels():
        live = registry.live(name)
        for version in registry.versions(name):
            metrics = registry.metadata(name, version)["metrics"]
            f1 = metrics.get("f1")
            f1_text = f"{f1[name]:.3f}" if isinstance(f1, dict) and name in f1 else "-"
            is_live = "●" if live and live.version == version else ""
            table.add_row(
                name, version, f"{metrics['accuracy']:.3f}", f1_text, str(metrics["n"]), is_live
            )
    if not table.row_count:
        click.echo(f"no models in {registry.store.uri}" + (f" for {label}" if label else ""))
        return
    Console().print(table)


@app.command()
@click.argument("label")
@click.argument("version", required=False)
@click.option("--latest", is_flag=True, help="Use the newest published version.")
@click.option(
    "--if-gate-passed",
    is_flag=True,
    help="Only if the version's training recorded a passed promotion gate.",
)
@config.option("store")
def promote(
    label: str, version: str | None, latest: bool, if_gate_passed: bool, store: str
) -> None:
    """Make VERSION of LABEL live (the Lambda picks it up within its pointer TTL)."""
    if latest == (version is not None):
        raise click.UsageError("give a VERSION or --latest (one of them)")
    registry = Registry(open_store(store))
    if latest:
        versions = registry.versions(label)
        if not versions:
            raise RegistryError(f"{label}: no published versions in {registry.store.uri}")
        version = versions[-1]
    assert version is not None
    if if_gate_passed:
        _, message = registry.promote_if_gate_passed(label, version)
        click.echo(message)
        return
    pointer = registry.promote(label, version)
    click.echo(f"{label}: {pointer.version} is live (previous: {pointer.previous or 'none'})")


@app.command()
@click.argument("label")
@click.option("--to", help="Go to this version instead of the previous one.")
@config.option("store")
def rollback(label: str, to: str | None, store: str) -> None:
    """Return LABEL to the version that was live before (or to --to)."""
    pointer = Registry(open_store(store)).rollback(label, to)
    click.echo(f"{label}: {pointer.version} is live again")
