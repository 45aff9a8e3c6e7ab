"""The catalog's data: every file passes the schema, every number names a source that is
defined, and the models the catalog promises are there."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from kaiyuan.catalog import store
from kaiyuan.catalog.schema import FamilyFile
from kaiyuan.catalog.sourcing import unsourced_numbers
from kaiyuan.families import registry

FIXTURES = Path(__file__).parents[1] / "data" / "catalog"
MODEL_FILES = sorted((store.data_dir() / "models").glob("*.toml"))

# The list of models (its ids as the catalog spells them).
PROMISED = (
    "qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "qwen3-8b", "qwen3-14b", "qwen3-32b",
    "qwen3-30b-a3b", "qwen3-235b-a22b", "qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-7b",
    "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "qwen2.5-coder-7b", "qwq-32b",
    "deepseek-v3", "deepseek-v3.1", "deepseek-r1", "deepseek-r1-0528", "kimi-k2-instruct",
    "kimi-k2-instruct-0905", "kimi-k2-thinking", "glm-4.5", "glm-4.5-air", "glm-4.6",
    "yi-1.5-6b", "yi-1.5-9b", "yi-1.5-34b", "baichuan2-7b", "baichuan2-13b", "llama-4-scout",
    "llama-4-maverick", "llama-3.1-8b", "llama-3.1-70b", "magistral-small",
    "magistral-small-2509", "smollm2-135m", "smollm2-360m", "smollm2-1.7b", "gemma-3-270m",
    "gemma-3-4b", "gemma-3-27b",
)


@pytest.fixture(scope="module")
def catalog() -> store.Catalog:
    return store.load()


def test_the_packaged_catalog_loads(catalog: store.Catalog) -> None:
    assert len(catalog.models) >= 40
    assert catalog.devices


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: p.name)
def test_every_number_in_every_family_file_has_a_source(path: Path) -> None:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    assert unsourced_numbers(raw) == []
    FamilyFile.model_validate(raw)


def test_the_device_table_is_sourced() -> None:
    raw = tomllib.loads((store.data_dir() / "devices.toml").read_text(encoding="utf-8"))
    assert unsourced_numbers(raw) == []


def test_the_sourcing_check_catches_an_unsourced_number() -> None:
    raw = tomllib.loads((FIXTURES / "unsourced.toml").read_text(encoding="utf-8"))
    assert unsourced_numbers(raw) == ["models[0].architecture.heads"]
    with pytest.raises(store.CatalogDataError, match=r"architecture\.heads"):
        store.read_file(FIXTURES / "unsourced.toml", FamilyFile)


def test_a_section_source_covers_its_numbers_and_nothing_deeper() -> None:
    raw = {"models": [{"architecture": {"src": "c", "layers": 2,
                                        "window": {"layers": 1, "tokens": 4}}}]}
    assert unsourced_numbers(raw) == ["models[0].architecture.window.layers",
                                      "models[0].architecture.window.tokens"]


def test_a_source_key_must_be_defined(tmp_path: Path) -> None:
    text = (FIXTURES / "unsourced.toml").read_text(encoding="utf-8")
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace("heads = 8", 'heads = { value = 8, src = "nowhere" }'))
    with pytest.raises(store.CatalogDataError, match=r"undefined sources.*nowhere"):
        store.read_file(broken, FamilyFile)


def test_the_promised_models_are_catalogued(catalog: store.Catalog) -> None:
    missing = [m for m in PROMISED if m not in catalog.models]
    assert missing == []
    assert any(m.startswith("mistral-small-3") for m in catalog.models)
    assert sum(m.startswith("deepseek-r1-distill") for m in catalog.models) >= 2
    assert any(m.startswith("minimax-m1") for m in catalog.models)


def test_tool_formats_name_registered_families(catalog: store.Catalog) -> None:
    known = set(registry.names())
    unknown = {m.id: m.tool_format for m in catalog.models.values()
               if m.tool_format and m.tool_format not in known}
    assert unknown == {}


def test_moe_models_say_how_many_parameters_are_active(catalog: store.Catalog) -> None:
    for model in catalog.models.values():
        if model.moe:
            assert model.active_b < model.params_b, model.id


def test_aliases_do_not_collide(catalog: store.Catalog) -> None:
    seen: dict[str, str] = {}
    for model in catalog.models.values():
        for name in (model.id, *model.aliases):
            assert seen.setdefault(name, model.id) == model.id, name


def test_an_unknown_id_suggests_the_nearest(catalog: store.Catalog) -> None:
    with pytest.raises(store.UnknownIdError, match=r"Did you mean.*qwen3-8b"):
        catalog.model("qwen3-8")
