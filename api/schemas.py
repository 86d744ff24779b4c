"""Request and response shapes of the HTTP API, with Russian examples for the OpenAPI page."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from pettriage.classifier.labels import CATEGORIES, CHANNELS, URGENCIES
from pettriage.classifier.records import MAX_TEXT_CHARS

# The guide's codes, from the one place that defines them; Literal[tuple] means one of them.
Channel = Literal[CHANNELS]
Urgency = Literal[URGENCIES]
Category = Literal[CATEGORIES]


class ClassifyRequest(BaseModel):
    message_id: str | None = Field(None, max_length=200, description="generated if not given")
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    channel: Channel
    received_at: datetime | None = None
    metadata: dict[str, Any] | None = None

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "message_id": "chat-58213",
                    "channel": "chat",
                    "text": "Ситтер опоздал на два часа, собака сделала лужу. Верните деньги!",
                    "received_at": "2026-11-25T09:15:00+03:00",
                },
                {"channel": "chat", "text": "я у клиента, собака не дышит, что делать??"},
            ]
        }
    }

    @field_validator("text")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must contain something besides spaces")
        return value


class BatchRequest(BaseModel):
    messages: list[ClassifyRequest] = Field(min_length=1, max_length=1000)


class HeadAnswer(BaseModel):
    label: str
    probability: float
    alternatives: list[dict[str, Any]]


class Classification(BaseModel):
    message_id: str
    is_hard: bool
    category: str
    urgency: str
    reporter: str
    probabilities: dict[str, dict[str, float]]
    heads: dict[str, HeadAnswer]
    needs_review: bool
    review_reasons: list[str]
    explanation: dict[str, list[dict[str, Any]]]
    safety: dict[str, Any]
    model_version: str
    actions: list[dict[str, Any]]
    stored: bool = Field(description="false when the database could not store it")


class BatchAnswer(BaseModel):
    results: list[Classification]


class EmailAnswer(Classification):
    sender: dict[str, str]
    subject: str
    classified_text: str


class StoredPrediction(BaseModel):
    id: int
    message_id: str
    channel: str | None
    text: str
    is_hard: bool
    category: str
    urgency: str
    decision: dict[str, Any]
    model_version: str
    received_at: datetime | None
    created_at: datetime
    metadata: dict[str, Any] | None


class MessageHistory(BaseModel):
    message_id: str
    latest: StoredPrediction
    history: list[StoredPrediction]


class PredictionPage(BaseModel):
    items: list[StoredPrediction]
    next_cursor: str | None
