"""Read and write safetensors files with numpy only.

The model directory stores its weights as safetensors so that the C++ runtime can mmap
them without torch. This module is the Python side of that format, kept free of the
`safetensors` package so the converter runs anywhere numpy does.

Layout: 8-byte little-endian header length N, then N bytes of JSON
    {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}}
padded with spaces to a multiple of 8, then the tensor bytes. Offsets are relative to
the end of the header. This writer stores tensors in sorted name order, back to back,
so the same tensors always give the same bytes.

BF16 has no numpy dtype: it is carried as a uint16 array, selected on write with
`dtypes={name: "BF16"}` and reported on read by `read_header`.
"""

import json
import struct

import numpy as np

# safetensors dtype name -> numpy dtype (little-endian)
_NUMPY_OF = {
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I8": np.dtype("i1"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
    "U8": np.dtype("u1"),
}
_NAME_OF = {
    np.dtype("<f4"): "F32",
    np.dtype("<f2"): "F16",
    np.dtype("i1"): "I8",
    np.dtype("<i4"): "I32",
    np.dtype("<i8"): "I64",
    np.dtype("u1"): "U8",
}


class SafetensorsError(ValueError):
    """The file is not a well-formed safetensors file (or holds an unsupported dtype)."""


def save(path, tensors, metadata=None, dtypes=None):
    """Write `tensors` ({name: np.ndarray}) to `path`.

    metadata: {str: str} stored under "__metadata__".
    dtypes: optional {name: "BF16"} for uint16 arrays that hold bfloat16 bits.
    """
    dtypes = dtypes or {}
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        array = np.asarray(tensors[name])
        dtype_name = dtypes.get(name) or _NAME_OF.get(array.dtype.newbyteorder("<"))
        if dtype_name is None:
            raise SafetensorsError(f"tensor {name!r}: unsupported dtype {array.dtype}")
        if dtype_name == "BF16" and array.dtype.newbyteorder("<") != np.dtype("<u2"):
            raise SafetensorsError(f"tensor {name!r}: BF16 must be given as uint16 bits")
        data = np.ascontiguousarray(array, dtype=_NUMPY_OF[dtype_name]).tobytes()
        header[name] = {
            "dtype": dtype_name,
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)


def read_header(path):
    """Return (header dict without __metadata__, metadata dict, data start offset)."""
    with open(path, "rb") as f:
        raw_len = f.read(8)
        if len(raw_len) != 8:
            raise SafetensorsError(f"{path}: too short for a safetensors header")
        (n,) = struct.unpack("<Q", raw_len)
        f.seek(0, 2)
        size = f.tell()
        if n > size - 8:
            raise SafetensorsError(f"{path}: header length {n} exceeds file size {size}")
        f.seek(8)
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise SafetensorsError(f"{path}: header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    metadata = header.pop("__metadata__", {}) or {}
    _check_layout(path, header, size - 8 - n)
    return header, metadata, 8 + n


def load(path):
    """Return ({name: np.ndarray}, metadata). BF16 tensors come back as uint16 bits."""
    header, metadata, start = read_header(path)
    with open(path, "rb") as f:
        f.seek(start)
        payload = f.read()
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        array = np.frombuffer(payload[begin:end], dtype=_NUMPY_OF[info["dtype"]])
        tensors[name] = array.reshape(info["shape"]).copy()
    return tensors, metadata


def _check_layout(path, header, payload_size):
    """Every tensor must have a known dtype, a byte range matching its shape, and the
    ranges must tile the payload exactly (no holes, no overlaps)."""
    spans = []
    for name, info in header.items():
        if not isinstance(info, dict) or {"dtype", "shape", "data_offsets"} - info.keys():
            raise SafetensorsError(f"{path}: entry {name!r} lacks dtype/shape/data_offsets")
        if not isinstance(info["dtype"], str) or info["dtype"] not in _NUMPY_OF:
            raise SafetensorsError(f"{path}: tensor {name!r} has unsupported dtype {info['dtype']}")
        if not _ints(info["shape"]) or not _ints(info["data_offsets"], 2):
            raise SafetensorsError(f"{path}: tensor {name!r} has a malformed shape or data_offsets")
        begin, end = info["data_offsets"]
        count = int(np.prod(info["shape"], dtype=np.int64))
        if end - begin != count * _NUMPY_OF[info["dtype"]].itemsize:
            raise SafetensorsError(f"{path}: tensor {name!r} byte range does not match its shape")
        spans.append((begin, end, name))
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            raise SafetensorsError(
                f"{path}: tensor {name!r} does not start where the previous one ends")
        position = end
    if position != payload_size:
        raise SafetensorsError(f"{path}: payload is {payload_size} bytes, tensors cover {position}")



def _ints(values, length=None):
    """A list of non-negative ints (of the given length)."""
    return (isinstance(values, list) and (length is None or len(values) == length)
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values))
