"""The metadata contracts as schemas: a model version's metadata.json and a backbone's.

Validated on publish and on every load, so one malformed document is named precisely and stays
one label's problem (see docs/architecture.md, "Model metadata").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class _Open(BaseModel):
    # extra keys are allowed: newer writers may add fields older readers ignore
    model_config = ConfigDict(extra="allow")


class InputSpec(_Open):
    height: int = Field(gt=0)
    width: int = Field(gt=0)
    channels: Literal[3]
    dtype: str
    preprocessing: str


class Artifact(_Open):
    key: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=0)


def _requires(name: str) -> AfterValidator:
    """An artifact table that must hold `name` (the file serving loads)."""

    def check(value: dict[str, Artifact]) -> dict[str, Artifact]:
        if name not in value:
            raise ValueError(f"must include {name}")
        return value

    return AfterValidator(check)


def artifact_table(artifacts: dict[str, bytes], key: Callable[[str], str]) -> dict[str, Any]:
    """The `artifacts` entry of a metadata.json: each file's store key, sha256 and size."""
    return {
        name: {"key": key(name), "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        for name, data in artifacts.items()
    }


class BackboneRef(_Open):
    """What a head was trained on: serving refuses the head under any other backbone."""

    version: str = Field(min_length=1)
    features: int = Field(gt=0)


class Metrics(_Open):
    accuracy: FiniteFloat
    n: int = Field(ge=0)


class Output(_Open):
    kind: Literal["logits", "probabilities"] = "logits"
    positive_index: Literal[0, 1] = 1


class TraySpec(_Open):
    """A head's tray calibration: served in tray mode against this threshold."""

    threshold: FiniteFloat = Field(ge=0, le=1)


class ModelMetadata(_Open):
    label: str = Field(min_length=1)
    version: str = Field(min_length=1)
    created_at: str
    classes: list[str] = Field(min_length=2, max_length=2)
    input: InputSpec
    threshold: FiniteFloat = Field(ge=0, le=1)
    metrics: Metrics
    artifacts: Annotated[dict[str, Artifact], _requires("model.tflite")]
    output: Output = Output()
    backbone: BackboneRef | None = None  # set for a head on the shared backbone
    tray: TraySpec | dict[str, Any] | None = None  # {} when the head has no tray calibration


class BackboneSource(_Open):
    package: str
    package_version: str
    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    license: str


class BackboneMetadata(_Open):
    name: str
    version: str = Field(min_length=1)
    created_at: str
    input: InputSpec
    features: int = Field(gt=0)
    source: BackboneSource
    parity: dict[str, Any]
    artifacts: Annotated[dict[str, Artifact], _requires("backbone.tflite")]


def problems(schema: type[BaseModel], document: Any) -> list[str]:
    """What is missing or wrong in a document, one readable line each (empty when usable)."""
    if not isinstance(document, dict):
        return ["metadata is not a JSON object"]
    try:
        schema.model_validate(document)
    except ValidationError as exc:
        return [_describe(err) for err in exc.errors()]
    return []


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "metadata"
    if error["type"] == "missing":
        return f"{where} is missing"
    return f"{where}: {error['msg']}"
