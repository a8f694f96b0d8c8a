#!/usr/bin/env python3
"""Rewrite a safetensors file with every F32 tensor stored as BF16 (round to nearest even); other dtypes unchanged.

Used for the built-in model: `aim train` writes f32 weights; models/fashion-mnist/aim/model.safetensors holds them
in bf16 (half the size; the loader widens bf16 to f32). Tensors keep their names, sorted, with metadata {"format": "pt"}.
Usage: scripts/safetensors-to-bf16.py IN.safetensors OUT.safetensors   (plain Python 3)
"""
import json
import struct
import sys
from array import array


def to_bf16(raw: bytes) -> bytes:
    bits = array("I", raw)
    if sys.byteorder != "little":
        bits.byteswap()
    out = array("H", [((b >> 16) | 0x40) if (b & 0x7F800000) == 0x7F800000 and (b & 0x7FFFFF)  # NaN stays quiet NaN
                      else (b + 0x7FFF + ((b >> 16) & 1)) >> 16 for b in bits])
    if sys.byteorder != "little":
        out.byteswap()
    return out.tobytes()


def main(src: str, dst: str) -> None:
    with open(src, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    out_header = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for name in sorted(header):
        info = header[name]
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        dtype = info["dtype"]
        if dtype == "F32":
            raw = to_bf16(raw)
            dtype = "BF16"
        out_header[name] = {"dtype": dtype, "shape": info["shape"], "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(out_header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
