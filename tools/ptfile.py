"""Read PyTorch checkpoints (torch.save zip format) without torch.

A checkpoint saved by torch >= 1.6 is a zip archive:
    <prefix>/data.pkl        the pickled object (state_dict, or a dict wrapping one)
    <prefix>/data/<key>      one raw little-endian storage per key
The pickle refers to storages through persistent ids
    ('storage', <torch.XxxStorage class>, key, location, numel)
and rebuilds tensors with torch._utils._rebuild_tensor_v2(storage, offset, size,
stride, ...). We answer those references with numpy: each storage becomes a 1-D array
and each tensor a (copied, contiguous) view with the saved offset, size and stride.

Only the globals a checkpoint legitimately needs are resolved; anything else raises
PtFileError, so a malicious or exotic pickle cannot run code here.

Legacy (pre-1.6, non-zip) files are handed to torch.load when torch is importable.
"""

import collections
import pickle
import zipfile

import numpy as np


class PtFileError(ValueError):
    """The file is not a checkpoint this reader understands."""


class _StorageType:
    """Stands in for torch.FloatStorage & co. in the pickle: only the dtype matters."""

    def __init__(self, name, dtype):
        self.name = name
        self.dtype = np.dtype(dtype)


_STORAGE_TYPES = {
    name: _StorageType(name, dtype)
    for name, dtype in [
        ("FloatStorage", "<f4"),
        ("HalfStorage", "<f2"),
        ("BFloat16Storage", "<u2"),  # bits; widened to float32 in _rebuild_tensor
        ("DoubleStorage", "<f8"),
        ("LongStorage", "<i8"),
        ("IntStorage", "<i4"),
        ("ShortStorage", "<i2"),
        ("CharStorage", "i1"),
        ("ByteStorage", "u1"),
        ("BoolStorage", "?"),
    ]
}


class _Storage:
    """A loaded storage: its type and its elements as a 1-D numpy array."""

    def __init__(self, storage_type, array):
        self.storage_type = storage_type
        self.array = array


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    """numpy equivalent of torch._utils._rebuild_tensor_v2 (returns a contiguous copy)."""
    if not isinstance(storage, _Storage):
        raise PtFileError("tensor without a storage in checkpoint")
    size, stride = tuple(size), tuple(stride)
    if 0 in size:
        array = np.zeros(size, dtype=storage.array.dtype)
    else:
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
        if storage_offset < 0 or min(stride, default=0) < 0 or last >= storage.array.size:
            raise PtFileError("tensor extends past the end of its storage")
        itemsize = storage.array.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            storage.array[storage_offset:],
            shape=size,
            strides=tuple(s * itemsize for s in stride),
            writeable=False,
        )
        array = np.array(view, copy=True)
    if storage.storage_type.name == "BFloat16Storage":
        array = (array.astype("<u4") << 16).view("<f4")
    return array


def _rebuild_parameter(data, requires_grad, backward_hooks, *unused):
    """A Parameter is stored as its tensor; we keep just the tensor."""
    return data


_GLOBALS = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("collections", "OrderedDict"): collections.OrderedDict,
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, archive, prefix):
        super().__init__(file)
        self._archive = archive
        self._prefix = prefix
        self._storages = {}

    def find_class(self, module, name):
        if module == "torch" and name in _STORAGE_TYPES:
            return _STORAGE_TYPES[name]
        if (module, name) in _GLOBALS:
            return _GLOBALS[(module, name)]
        raise PtFileError(f"checkpoint contains an unsupported object {module}.{name}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise PtFileError(f"unsupported persistent id in checkpoint: {pid!r}")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, _StorageType):
            raise PtFileError(f"unsupported storage type {storage_type!r}")
        if key not in self._storages:
            try:
                raw = self._archive.read(f"{self._prefix}data/{key}")
            except KeyError:
                raise PtFileError(f"storage {key} is missing from the archive") from None
            if len(raw) < numel * storage_type.dtype.itemsize:
                raise PtFileError(f"storage {key} is truncated")
            array = np.frombuffer(raw, dtype=storage_type.dtype, count=numel)
            self._storages[key] = _Storage(storage_type, array)
        return self._storages[key]


def load(path):
    """Load a checkpoint; tensors become numpy arrays (bfloat16 widened to float32)."""
    if not zipfile.is_zipfile(path):
        return _load_legacy(path)
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            pickles = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
            if len(pickles) != 1:
                raise PtFileError(f"expected one data.pkl in the archive, found {len(pickles)}")
            prefix = pickles[0][: -len("data.pkl")]
            if prefix + "byteorder" in names and archive.read(prefix + "byteorder") != b"little":
                raise PtFileError("big-endian checkpoints are not supported")
            with archive.open(pickles[0]) as f:
                return _Unpickler(f, archive, prefix).load()
    except PtFileError as e:
        raise PtFileError(f"{path}: {e}") from None
    except Exception as e:  # a damaged archive or pickle can fail in many ways
        raise PtFileError(f"{path}: not a readable PyTorch checkpoint ({e})") from None


def _load_legacy(path):
    """Pre-1.6 checkpoints are plain pickles with torch internals; only torch reads them."""
    try:
        import torch
    except ImportError:
        raise PtFileError(
            f"{path}: not a zip-format PyTorch checkpoint; legacy files need torch installed"
        ) from None
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # torch raises many types for a bad file
        raise PtFileError(f"{path}: torch.load failed ({' '.join(str(e).split())})") from None
    return _tensors_to_numpy(obj, torch)


def _tensors_to_numpy(obj, torch):
    if isinstance(obj, torch.Tensor):
        obj = obj.detach()
        if obj.dtype == torch.bfloat16:
            obj = obj.float()
        return obj.numpy().copy()
    if isinstance(obj, dict):
        return type(obj)((k, _tensors_to_numpy(v, torch)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_tensors_to_numpy(v, torch) for v in obj)
    return obj
