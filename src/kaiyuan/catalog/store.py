"""Loading the catalog's data files, checked, and finding things in them by id."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from kaiyuan.catalog.schema import (
    Device,
    DeviceFile,
    FamilyFile,
    Model,
    Source,
)
from kaiyuan.catalog.sourcing import unsourced_numbers

_File = TypeVar("_File", bound=BaseModel)


class CatalogDataError(ValueError):
    """A data file breaks the schema or the sourcing rule."""


class UnknownIdError(LookupError):
    """An id that is not in the catalog; the message suggests the nearest ones."""


def read_file(path: Path, schema: type[_File]) -> _File:
    """Parse and check one data file: TOML syntax, the sourcing rule, then the schema."""
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CatalogDataError(f"{path.name}: not valid TOML: {exc}") from None
    unsourced = unsourced_numbers(raw)
    if unsourced:
        raise CatalogDataError(
            f"{path.name}: numbers without a source: {', '.join(unsourced[:10])}"
            + (f" and {len(unsourced) - 10} more" if len(unsourced) > 10 else "")
        )
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        raise CatalogDataError(f"{path.name}: {exc}") from None


@dataclass(frozen=True)
class Catalog:
    """Every model and device, with the sources each cites."""

    models: dict[str, Model]
    devices: dict[str, Device]
    sources: dict[str, dict[str, Source]]

    def model(self, model_id: str) -> Model:
        """The model called `model_id` (or one of its aliases)."""
        key = model_id.lower()
        for model in self.models.values():
            if key == model.id or key in model.aliases:
                return model
        raise UnknownIdError(_unknown("model", model_id, self.models))

    def device(self, device_id: str) -> Device:
        try:
            return self.devices[device_id.lower()]
        except KeyError:
            raise UnknownIdError(_unknown("device", device_id, self.devices)) from None

    def source(self, model: Model, key: str) -> Source:
        """The source `key` as defined in `model`'s family file."""
        return self.sources[model.id][key]


def _unknown(what: str, given: str, known: dict[str, Any]) -> str:
    close = difflib.get_close_matches(given.lower(), [k.lower() for k in known], n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return f"Unknown {what} '{given}'.{hint} Known: {', '.join(sorted(known))}."


def data_dir() -> Path:
    return Path(str(resources.files("kaiyuan.catalog") / "data"))


def load(directory: Path | None = None) -> Catalog:
    """Read and check every data file under `directory` (the packaged data by default)."""
    root = directory or data_dir()
    models: dict[str, Model] = {}
    sources: dict[str, dict[str, Source]] = {}
    for path in sorted((root / "models").glob("*.toml")):
        family = read_file(path, FamilyFile)
        for model in family.models:
            if model.id in models:
                raise CatalogDataError(f"{path.name}: model id {model.id} is defined twice")
            models[model.id] = model
            sources[model.id] = family.sources
    devices = read_file(root / "devices.toml", DeviceFile)
    return Catalog(
        models=models,
        devices={d.id: d for d in devices.devices},
        sources=sources,
    )


@cache
def default() -> Catalog:
    """The packaged catalog, loaded once."""
    return load()
