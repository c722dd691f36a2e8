"""A minimal safetensors reader and writer (the format is a little-endian
u64 header length, a JSON header, then the raw tensor bytes), so the trainer
needs nothing beyond PyTorch."""

import json
import struct

import numpy as np
import torch

_DTYPES = {torch.float32: ("F32", np.float32), torch.float16: ("F16", np.float16), torch.int64: ("I64", np.int64),
           torch.int32: ("I32", np.int32)}
_NAMES = {v[0]: (k, v[1]) for k, v in _DTYPES.items()}


def save(tensors, path, metadata=None):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        code, npdt = _DTYPES[t.dtype]
        raw = t.numpy().astype(npdt, copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt, npdt = _NAMES[info["dtype"]]
        a, b = info["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=npdt).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out
