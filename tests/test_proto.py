"""Generated stubs must not drift from proto/: regenerate exactly as `make proto` does and compare."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ["bitrag_pb2.py", "bitrag_pb2.pyi", "bitrag_pb2_grpc.py"]


def test_make_proto_recipe_matches_this_test() -> None:
    """The Makefile's recipe is the command regenerated below (output dir aside)."""
    mk = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^proto:.*\n\t(.+)$", mk, re.M)
    assert recipe, "Makefile has no `proto` target"
    assert recipe.group(1).strip() == (
        "$(PY) -m grpc_tools.protoc -I proto --python_out=client --pyi_out=client "
        "--grpc_python_out=client proto/bitrag/v1/*.proto"
    )


@pytest.mark.timeout(120)
def test_generated_stubs_are_up_to_date(tmp_path: Path) -> None:
    protos = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "proto" / "bitrag" / "v1").glob("*.proto"))
    assert protos == ["proto/bitrag/v1/bitrag.proto"]
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", "proto", f"--python_out={tmp_path}",
         f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}", *protos],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )
    out = tmp_path / "bitrag" / "v1"
    assert sorted(p.name for p in out.iterdir()) == sorted(GENERATED)
    for name in GENERATED:
        fresh = (out / name).read_bytes()
        committed = (ROOT / "client" / "bitrag" / "v1" / name).read_bytes()
        assert fresh == committed, f"client/bitrag/v1/{name} is stale: run `make proto`"


def test_grpc_tools_pinned_version() -> None:
    """The stubs embed the generator's version: the dev extra pins grpcio-tools."""
    from importlib.metadata import version

    pyproject = (ROOT / "pyproject.toml").read_text()
    pin = re.search(r'"grpcio-tools==([0-9.]+)"', pyproject)
    assert pin and version("grpcio-tools") == pin.group(1)
    stub = (ROOT / "client" / "bitrag" / "v1" / "bitrag_pb2_grpc.py").read_text()
    assert f"GRPC_GENERATED_VERSION = '{pin.group(1)}'" in stub
