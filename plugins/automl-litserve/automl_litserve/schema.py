"""The HTTP contract: request and response bodies, error bodies, the OpenAPI extras."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class PredictRequest(BaseModel):
    """Tabular rows as objects of columns, texts as strings, images as base64 strings."""

    inputs: list[dict[str, Any] | str] = Field(min_length=1)


class FlagRequest(BaseModel):
    """Why an invoke deserves a human look (a business consequence, a user's report)."""

    reason: str | None = Field(default=None, max_length=500)


class Prediction(BaseModel):
    label: str
    scores: dict[str, float]
    model: str
    version: int
    invoke_id: str


class PredictResponse(BaseModel):
    model: str
    version: int
    route: str  # production, canary or pinned (a /versions/{version} request)
    runtime: str = "native"  # what answered: the version's exported copy (onnx) or the native model
    predictions: list[Prediction]


class ErrorBody(BaseModel):
    detail: Any


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed JSON or multipart body"},
    401: {"model": ErrorBody, "description": "Missing or wrong X-API-Key for this model"},
    404: {"model": ErrorBody, "description": "Unknown model or version"},
    413: {"model": ErrorBody, "description": "Body over the size limit"},
    422: {"model": ErrorBody, "description": "Inputs of the wrong shape or type for this model"},
    503: {"model": ErrorBody, "description": "Overloaded or stopping; retry after Retry-After seconds"},
    504: {"model": ErrorBody, "description": "The model did not answer in time"},
}

BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": PredictRequest.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                }
            },
        },
    }
}
