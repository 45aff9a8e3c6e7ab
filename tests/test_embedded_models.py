"""Embedded models: assembly from parts, hash verification, alias and path resolution."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from kaiyuan.engine.embedded import (
    EMBEDDED_MODELS,
    ModelUnavailableError,
    SplitGGUF,
    assemble,
    resolve_model,
)


def _parts(tmp_path: Path, contents: list[bytes]) -> list[Path]:
    paths = []
    for i, data in enumerate(contents):
        path = tmp_path / f"part{i:02d}.bin"
        path.write_bytes(data)
        paths.append(path)
    return paths


def _split(contents: list[bytes], sha: str | None = None) -> SplitGGUF:
    whole = b"".join(contents)
    return SplitGGUF(parts=(("fake", "x"),) * len(contents), size=len(whole),
                     sha256=sha or hashlib.sha256(whole).hexdigest(), filename="m.gguf")


def test_assembles_in_order_and_verifies(tmp_path: Path) -> None:
    contents = [b"GGUF" + b"a" * 100, b"b" * 50, b"c" * 7]
    target = assemble(_split(contents), _parts(tmp_path, contents), tmp_path / "out" / "m.gguf")
    assert target.read_bytes() == b"".join(contents)
    stamp = target.stat().st_mtime_ns
    again = assemble(_split(contents), _parts(tmp_path, contents), target)
    assert again.stat().st_mtime_ns == stamp, "a verified copy is reused, not rewritten"


def test_refuses_a_hash_mismatch_and_leaves_nothing(tmp_path: Path) -> None:
    contents = [b"one", b"two"]
    with pytest.raises(ModelUnavailableError, match="does not match its published checksum"):
        assemble(_split(contents, sha="0" * 64), _parts(tmp_path, contents),
                 tmp_path / "out" / "m.gguf")
    assert not list((tmp_path / "out").iterdir())


def test_a_changed_file_is_verified_again(tmp_path: Path) -> None:
    contents = [b"one", b"two"]
    target = assemble(_split(contents), _parts(tmp_path, contents), tmp_path / "m.gguf")
    target.write_bytes(b"corrupted!")
    repaired = assemble(_split(contents), _parts(tmp_path, contents), target)
    assert repaired.read_bytes() == b"onetwo"


def test_the_real_qwen_model_assembles_to_the_published_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAIYUAN_HOME", str(tmp_path))
    source = resolve_model("qwen2.5-coder-0.5b")
    assert source.path.parent == tmp_path / "models"
    assert source.path.stat().st_size == 491_400_064
    with source.path.open("rb") as f:
        assert f.read(4) == b"GGUF"


def test_aliases_and_paths() -> None:
    assert set(EMBEDDED_MODELS) == {"qwen2.5-coder-0.5b", "smollm2-135m"}
    smol = resolve_model("smollm2-135m")
    assert smol.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    by_path = resolve_model(str(smol.path))
    assert by_path.path == smol.path and by_path.model_id == "SmolLM2-135M-Instruct.Q4_1"
    with pytest.raises(ModelUnavailableError, match="neither an embedded model"):
        resolve_model("no-such-model")
