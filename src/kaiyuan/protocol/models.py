"""`GET /v1/models`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from kaiyuan.protocol.chat import _now


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = Field(default_factory=_now)
    owned_by: str = "kaiyuan"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
