"""`GET /v1/models`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from kaiyuan.protocol.response import unix_time


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = Field(default_factory=unix_time)
    owned_by: str = "kaiyuan"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
