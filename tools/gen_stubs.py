"""Generate the Python gRPC stubs of sanas.v1 from proto/ with grpcio-tools.

Usage: python tools/gen_stubs.py OUT_DIR   (OUT_DIR is the `sanas/v1` package folder)
The drift test runs the same function into a temporary folder and compares.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PROTO_FILE = "sanas/v1/sanas.proto"
GENERATED = ("sanas_pb2.py", "sanas_pb2.pyi", "sanas_pb2_grpc.py")


def generate(out_dir: Path) -> list[Path]:
    """Write the generated files into out_dir and return their paths."""
    from grpc_tools import protoc  # dev dependency, imported only here

    include = Path(protoc.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            PROTO_FILE,
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed on {PROTO_FILE}")
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for name in GENERATED:
            target = out_dir / name
            shutil.copyfile(Path(tmp) / "sanas" / "v1" / name, target)
            written.append(target)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: gen_stubs.py OUT_DIR")
    for path in generate(Path(sys.argv[1])):
        print(f"wrote {path}")
