"""The legacy torch.save reader, on files these tests write in that format without torch."""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import sys
import types
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from training.backbone.torch_legacy import (
    MAGIC_NUMBER,
    PROTOCOL_VERSION,
    CheckpointError,
    load_state_dict,
)

_STORAGE_NAMES = {np.dtype("<f4"): "FloatStorage", np.dtype("<f2"): "HalfStorage"}
_STORAGE_NAMES[np.dtype("<i8")] = "LongStorage"


@dataclass(eq=False)
class Storage:
    key: str
    data: np.ndarray  # flat


@dataclass(eq=False)
class Tensor:
    storage: Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _stand_in_torch(mp: pytest.MonkeyPatch) -> tuple[types.ModuleType, Any]:
    """Modules named torch and torch._utils, so pickle writes the globals torch.save writes."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")
    for name in _STORAGE_NAMES.values():
        setattr(torch, name, type(name, (), {"__module__": "torch"}))

    def _rebuild_tensor_v2(*args: Any) -> None:
        raise AssertionError("only ever pickled by reference")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    torch._utils = utils  # type: ignore[attr-defined]
    mp.setitem(sys.modules, "torch", torch)
    mp.setitem(sys.modules, "torch._utils", utils)
    return torch, _rebuild_tensor_v2


class _TorchPickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, torch: types.ModuleType, rebuild: Any) -> None:
        super().__init__(file, protocol=2)
        self.torch, self.rebuild = torch, rebuild

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, Storage):
            kind = getattr(self.torch, _STORAGE_NAMES[obj.data.dtype])
            return ("storage", kind, obj.key, "cpu", obj.data.size, None)
        return None

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, Tensor):
            args = (obj.storage, obj.offset, obj.size, obj.stride, False, collections.OrderedDict())
            return self.rebuild, args
        return NotImplemented


def header() -> bytes:
    info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"int": 4}}
    return b"".join(pickle.dumps(o, protocol=2) for o in (MAGIC_NUMBER, PROTOCOL_VERSION, info))


def write_legacy(state: dict[str, Any], storages: list[Storage]) -> bytes:
    """What torch.save(state, f, _use_new_zipfile_serialization=False) writes."""
    out = io.BytesIO()
    out.write(header())
    with pytest.MonkeyPatch.context() as mp:
        _TorchPickler(out, *_stand_in_torch(mp)).dump(collections.OrderedDict(state))
    pickle.dump([s.key for s in storages], out, protocol=2)
    for storage in storages:
        out.write(struct.pack("<q", storage.data.size))
        out.write(storage.data.tobytes())
    return out.getvalue()


@pytest.fixture(scope="module")
def written() -> tuple[bytes, dict[str, np.ndarray]]:
    """A file with contiguous, transposed, storage-sharing, float16 and scalar tensors."""
    plain = Storage("11", np.arange(6, dtype="<f4") * 0.5)
    square = Storage("22", np.arange(12, dtype="<f4") - 3.25)
    shared = Storage("33", np.linspace(-1, 1, 10, dtype="<f4"))
    half = Storage("44", np.array([0.1, -2.5, 65504.0, 1e-4], dtype="<f2"))
    count = Storage("55", np.array([7], dtype="<i8"))
    state = {
        "conv.weight": Tensor(plain, 0, (2, 3), (3, 1)),
        "transposed": Tensor(square, 0, (4, 3), (1, 4)),  # a (3, 4) tensor's .t()
        "shared.head": Tensor(shared, 0, (4,), (1,)),
        "shared.tail": Tensor(shared, 6, (2, 2), (2, 1)),
        "half": Tensor(half, 1, (3,), (1,)),
        "bn.num_batches_tracked": Tensor(count, 0, (), ()),
    }
    expected = {
        "conv.weight": plain.data.reshape(2, 3),
        "transposed": square.data.reshape(3, 4).T,
        "shared.head": shared.data[:4],
        "shared.tail": shared.data[6:].reshape(2, 2),
        "half": half.data[1:],
        "bn.num_batches_tracked": np.array(7, dtype="<i8"),
    }
    return write_legacy(state, [plain, square, shared, half, count]), expected


def test_tensors_read_back_exactly(written: tuple[bytes, dict[str, np.ndarray]]) -> None:
    data, expected = written
    state = load_state_dict(data)
    assert list(state) == list(expected)
    for name, want in expected.items():
        assert state[name].dtype == want.dtype, name
        assert state[name].shape == want.shape, name
        np.testing.assert_array_equal(state[name], want, err_msg=name)
    assert state["transposed"].flags.c_contiguous  # copied out of the strided view


def test_reads_a_path_and_arrays_are_independent(
    written: tuple[bytes, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    data, expected = written
    path = tmp_path / "tiny.pth"
    path.write_bytes(data)
    state = load_state_dict(path)
    state["shared.head"][0] = 42.0  # must not write through into its neighbour's storage
    np.testing.assert_array_equal(state["shared.tail"], expected["shared.tail"])


def test_forbidden_global_is_refused() -> None:
    data = header() + pickle.dumps(collections.OrderedDict(cmd=os.system), protocol=2)
    with pytest.raises(CheckpointError, match=r"refusing to load global (posix|nt)\.system"):
        load_state_dict(data)


@pytest.mark.parametrize("where", ["in the state dict", "in the tensor data"])
def test_truncated_file_is_a_clear_error(
    written: tuple[bytes, dict[str, np.ndarray]], where: str
) -> None:
    data, _ = written
    cut = len(data) // 3 if where == "in the state dict" else len(data) - 5
    with pytest.raises(CheckpointError, match="truncated"):
        load_state_dict(data[:cut])


def test_zip_format_is_named_with_the_fix() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("archive/data.pkl", b"")
    # a ValueError, which is what callers catch for bad input
    with pytest.raises(ValueError, match=r"zip-format.*_use_new_zipfile_serialization=False"):
        load_state_dict(buf.getvalue())


def test_other_pickles_are_not_checkpoints() -> None:
    with pytest.raises(CheckpointError, match="magic number"):
        load_state_dict(pickle.dumps({"weight": [1.0, 2.0]}))


def test_stride_past_the_storage_is_refused() -> None:
    small = Storage("1", np.zeros(4, dtype="<f4"))
    data = write_legacy({"w": Tensor(small, 1, (2, 2), (2, 1))}, [small])
    with pytest.raises(CheckpointError, match="w: size"):
        load_state_dict(data)
