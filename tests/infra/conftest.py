"""The stack, synthesized once per session in-process, from tiny inputs the tests make."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# jsii prints a banner for Node majors past its support window on every start.
_NODE_MAJOR = subprocess.run(
    ["node", "-p", "process.versions.node.split('.')[0]"],
    capture_output=True,
    text=True,
    check=False,
).stdout.strip()
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", _NODE_MAJOR)
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", _NODE_MAJOR)

DOCKERFILE = 'ARG BASE_IMAGE=debian:bookworm-slim\nFROM ${BASE_IMAGE}\nENTRYPOINT ["traygo"]\n'


@dataclass(frozen=True)
class Synthesized:
    template: dict[str, Any]
    outdir: Path
    template_path: Path

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == kind}

    def one(self, kind: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(kind)
        assert len(found) == 1, f"{kind}: {sorted(found)}"
        return next(iter(found.items()))


def make_inputs(root: Path) -> dict[str, Any]:
    """A stand-in Lambda bundle and image sources: synth only checks and fingerprints them."""
    bundle = root / "bundle" / "lambdas" / "inference"
    bundle.mkdir(parents=True)
    (bundle / "handler.py").write_text("def handler(event, context):\n    return {}\n")
    for part in ("scraper", "training"):
        (root / "images" / part).mkdir(parents=True)
        (root / "images" / part / "Dockerfile").write_text(DOCKERFILE)
    return {
        "lambdaBundle": str(root / "bundle"),
        "imageSource": str(root / "images"),
        "aws:cdk:disable-asset-staging": True,
        "@aws-cdk/core:validationReportJson": True,
    }


def synth(root: Path, context: dict[str, Any]) -> Synthesized:
    """Synthesize the app as `cdk synth` does, cdk-nag included; raises on any finding."""
    import aws_cdk as cdk

    from infra.app import build

    outdir = root / "cdk.out"
    app = cdk.App(context={**make_inputs(root), **context}, outdir=str(outdir))
    stack = build(app)
    app.synth()
    path = outdir / f"{stack.artifact_id}.template.json"
    return Synthesized(json.loads(path.read_text()), outdir, path)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    yield synth(tmp_path_factory.mktemp("synth"), {"corsOrigins": "https://demo.example.com"})
