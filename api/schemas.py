"""Request and response shapes of the HTTP API, with Russian examples for the OpenAPI page."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from pettriage.classifier.labels import CATEGORIES, CHANNELS, REPORTERS, URGENCIES
from pettriage.classifier.records import MAX_TEXT_CHARS

from . import examples, inputs

# The guide's codes, from the one place that defines them; Literal[tuple] means one of them.
Channel = Literal[CHANNELS]
Urgency = Literal[URGENCIES]
Category = Literal[CATEGORIES]
Reporter = Literal[REPORTERS]


# A message id comes back in a URL path (`/v1/predictions/{message_id}`), so it holds only what
# a path segment carries as it is: an id with `/` was stored and could never be read back.
MESSAGE_ID_CHARS = "letters, digits and . _ - : @ + = ~"
MESSAGE_ID_PATTERN = r"[A-Za-z0-9._:@+=~-]{1,200}"
_MESSAGE_ID = re.compile(MESSAGE_ID_PATTERN)
_MESSAGE_ID_CHAR = re.compile(r"[^A-Za-z0-9._:@+=~-]")


def _message_id(value: str) -> str:
    if _MESSAGE_ID.fullmatch(value):
        return value
    wrong = _MESSAGE_ID_CHAR.search(value)
    got = f"{wrong[0]!r} at character {wrong.start() + 1}" if wrong else f"{len(value)} characters"
    raise PydanticCustomError(
        "message_id",
        "{problem}",
        {"problem": f"message_id may hold only {MESSAGE_ID_CHARS}, 1 to 200 characters; got {got}"},
    )


MessageId = Annotated[
    str,
    AfterValidator(_message_id),
    Field(
        description=f"{MESSAGE_ID_CHARS}; 1 to 200 characters",
        json_schema_extra={"pattern": f"^{MESSAGE_ID_PATTERN}$"},
    ),
]


class ClassifyRequest(BaseModel):
    message_id: MessageId | None = Field(None, description="generated if not given")
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

    # What was replaced on the way in (see `inputs`); said in the answer as `input_warnings`.
    _warnings: list[str] = PrivateAttr(default_factory=list)
    # Set by the service, never by a caller: who sent it and the key a repeat is known by.
    _intake: Any = PrivateAttr(default=None)

    @field_validator("text")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must contain something besides spaces")
        return value

    @field_validator("metadata")
    @classmethod
    def metadata_limits(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            inputs.clean_metadata(value)  # depth and size: a 422 naming `metadata`
        return value

    @model_validator(mode="wrap")
    @classmethod
    def storable(cls, data: Any, handler) -> ClassifyRequest:
        """Characters no database can hold are replaced before validation, and the answer will
        say so."""
        notes: list[str] = []
        if isinstance(data, dict):
            data = dict(data)
            if isinstance(data.get("text"), str):
                data["text"], notes = inputs.clean_text(data["text"], "text")
            if isinstance(data.get("metadata"), dict):
                try:
                    data["metadata"], more = inputs.clean_metadata(data["metadata"])
                    notes += more
                except inputs.MetadataError:
                    pass  # the field's own validator names it
        request = handler(data)
        request._warnings = notes
        return request

    @property
    def warnings(self) -> list[str]:
        return self._warnings


class BatchRequest(BaseModel):
    messages: list[ClassifyRequest] = Field(min_length=1, max_length=1000)

    model_config = {"json_schema_extra": {"examples": [examples.BATCH]}}


class HeadAnswer(BaseModel):
    label: str
    probability: float
    alternatives: list[dict[str, Any]]


ActionType = Literal[
    "phone_senior_manager_now",
    "hand_over_to_senior_manager",
    "call_back_executor",
    "first_line_reply",
    "acknowledge",
    "human_review",
]


class Contact(BaseModel):
    name: str
    phone: str = ""
    chat: str = ""


class Action(BaseModel):
    """What the company's procedure says to do now; the fields present depend on `type`."""

    type: ActionType
    to: Contact | None = Field(None, description="whom to phone or hand over to")
    instructions: str | None = None
    side: Reporter | None = Field(None, description="the senior manager of this side")
    via: dict[str, str] | None = Field(None, description="the hard-case form and chat")
    deadline: Literal["now", "today"] | None = None
    reasons: list[str] | None = Field(None, description="why a person should look at it")


class Safety(BaseModel):
    fired: bool = Field(description="a safety rule raised the decision to critical")
    rule: str | None = None
    matched: list[str] | None = Field(None, description="the words that fired it")
    action: str | None = None
    category: Category | None = None
    when: dict[str, Any] | None = Field(
        None, description="the time decision: now, earlier, planned or hypothetical, and why"
    )


class Classification(BaseModel):
    message_id: str
    is_hard: bool
    category: Category
    urgency: Urgency
    reporter: Reporter
    probabilities: dict[str, dict[str, float]]
    heads: dict[str, HeadAnswer]
    needs_review: bool
    review_reasons: list[str]
    explanation: dict[str, list[dict[str, Any]]] = Field(
        description="per head, the words that drove the decision and their weights"
    )
    safety: Safety
    model_version: str
    read_as: str | None = Field(
        None,
        description="the Cyrillic text that was classified when the message came in Latin "
        "letters (the original stays in `text` and in the store); null otherwise",
    )
    in_domain: bool | None = Field(
        None,
        description="is the message about this service at all; false: `other`, never a hard "
        "case (unless a safety rule fired); null for a model trained without such messages",
    )
    actions: list[Action]
    stored: bool = Field(description="false when the database could not store it")
    input_warnings: list[str] | None = Field(
        None, description="what was replaced on the way in (characters no database holds)"
    )

    model_config = {"json_schema_extra": {"examples": [examples.ANSWER]}}


class BatchAnswer(BaseModel):
    results: list[Classification]

    model_config = {"json_schema_extra": {"examples": [{"results": [examples.ANSWER]}]}}


class EmailAnswer(Classification):
    sender: dict[str, str] = Field(description="the From header: name and address")
    subject: str
    classified_text: str = Field(
        description="the text that was classified: the new text of a reply, a forwarded "
        "complaint with the forwarder's note; no quotes, signatures or disclaimers"
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                examples.ANSWER
                | {
                    "message_id": "CAF7x2kq@mail.gmail.com",
                    "sender": {"name": "Марина Соколова", "address": "m.sokolova@example.ru"},
                    "subject": "Re: Заказ 58213",
                    "classified_text": "Ситтер опоздала на два часа, собака сделала лужу.",
                }
            ]
        }
    }


class StoredPrediction(BaseModel):
    id: int
    message_id: str
    channel: Channel | None
    text: str
    is_hard: bool
    category: Category
    urgency: Urgency
    reporter: Reporter
    needs_review: bool
    decision: dict[str, Any]
    model_version: str
    sender: str | None = Field(None, description="an e-mail's From address")
    subject: str | None = Field(None, description="an e-mail's Subject")
    actions: list[dict[str, Any]] | None = Field(None, description="what was answered to do")
    received_at: datetime | None = Field(description="when the channel received it, UTC")
    created_at: datetime = Field(description="when it was stored, UTC")
    metadata: dict[str, Any] | None

    model_config = {"json_schema_extra": {"examples": [examples.STORED]}}


class MessageHistory(BaseModel):
    message_id: str
    latest: StoredPrediction
    history: list[StoredPrediction]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "message_id": "chat-58213",
                    "latest": examples.STORED,
                    "history": [examples.STORED],
                }
            ]
        }
    }


class PredictionPage(BaseModel):
    items: list[StoredPrediction]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: done")

    model_config = {
        "json_schema_extra": {"examples": [{"items": [examples.STORED], "next_cursor": "cDoxMDQy"}]}
    }
