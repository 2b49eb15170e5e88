"""Generate the Go, TypeScript and C++ client code of sanas.v1 (`make stubs`).

Each language uses its ecosystem's standard generator:
- Go: protoc-gen-go + protoc-gen-go-grpc (pinned, installed into .tools/bin by
  `make tools`), driven by the protoc bundled with grpcio-tools;
- TypeScript: @grpc/proto-loader's proto-loader-gen-types (types for @grpc/grpc-js,
  which loads the .proto at run time, so the .proto is copied beside them);
- C++: Debian's protoc 3.21 with grpc_cpp_plugin, the versions the C++ client links
  against (generated C++ must match its libprotobuf exactly).

usage: python tools/gen_clients.py [OUT_ROOT]   (default: clients/)
The drift test generates into a temporary folder and compares with the committed files.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PROTO_FILE = "sanas/v1/sanas.proto"
TOOLS_BIN = ROOT / ".tools" / "bin"
GO_MODULE = "github.com/sanas-nas/sanas/clients/go"

# Generated files, relative to the clients/ root: what the drift test compares.
GENERATED = {
    "go": ["go/sanasv1/sanas.pb.go", "go/sanasv1/sanas_grpc.pb.go"],
    "ts": ["ts/proto/sanas/v1/sanas.proto"],  # plus ts/src/generated/** (listed at run time)
    "cpp": [
        "cpp/generated/sanas/v1/sanas.pb.h",
        "cpp/generated/sanas/v1/sanas.pb.cc",
        "cpp/generated/sanas/v1/sanas.grpc.pb.h",
        "cpp/generated/sanas/v1/sanas.grpc.pb.cc",
    ],
}


def _run(args: list[str], cwd: Path | None = None) -> None:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}")


def generate_go(out_root: Path) -> None:
    from grpc_tools import protoc

    include = Path(protoc.__file__).parent / "_proto"
    out = out_root / "go"
    out.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--plugin=protoc-gen-go={TOOLS_BIN / 'protoc-gen-go'}",
        f"--plugin=protoc-gen-go-grpc={TOOLS_BIN / 'protoc-gen-go-grpc'}",
        f"--go_out={out}",
        f"--go_opt=module={GO_MODULE}",
        f"--go-grpc_out={out}",
        f"--go-grpc_opt=module={GO_MODULE}",
        PROTO_FILE,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc (Go) failed; run `make tools` to install the Go plugins")


def generate_ts(out_root: Path) -> None:
    out = out_root / "ts"
    proto_copy = out / "proto" / PROTO_FILE
    proto_copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROTO_ROOT / PROTO_FILE, proto_copy)
    generated = out / "src" / "generated"
    shutil.rmtree(generated, ignore_errors=True)
    tool = ROOT / "clients" / "ts" / "node_modules" / ".bin" / "proto-loader-gen-types"
    # The .proto file name goes before -I (toolchain notes). Run from the proto folder
    # with a relative include so the generated headers name no absolute path.
    _run(
        [
            str(tool),
            PROTO_FILE,
            "-I",
            ".",
            "--longs=String",
            "--enums=String",
            "--defaults",
            "--oneofs",
            "--grpcLib=@grpc/grpc-js",
            "--outDir",
            str(generated.resolve()),
        ],
        cwd=out / "proto",
    )


def generate_cpp(out_root: Path) -> None:
    out = out_root / "cpp" / "generated"
    out.mkdir(parents=True, exist_ok=True)
    plugin = shutil.which("grpc_cpp_plugin")
    if plugin is None or shutil.which("protoc") is None:
        raise RuntimeError("protoc / grpc_cpp_plugin missing; run `make tools`")
    _run(
        [
            "protoc",
            f"-I{PROTO_ROOT}",
            f"--cpp_out={out}",
            f"--grpc_out={out}",
            f"--plugin=protoc-gen-grpc={plugin}",
            PROTO_FILE,
        ]
    )


def generate_all(out_root: Path) -> None:
    generate_go(out_root)
    generate_ts(out_root)
    generate_cpp(out_root)


def generated_files(root: Path) -> list[str]:
    """Relative paths of every generated file under a clients/ root."""
    names = [n for files in GENERATED.values() for n in files]
    ts_generated = root / "ts" / "src" / "generated"
    if ts_generated.exists():
        names += sorted(str(p.relative_to(root)) for p in ts_generated.rglob("*") if p.is_file())
    return names


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "clients"
    with tempfile.TemporaryDirectory() as tmp:
        generate_all(Path(tmp))
        for name in generated_files(Path(tmp)):
            dest = target / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(tmp) / name, dest)
            print(f"wrote {dest}")
