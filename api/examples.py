"""Examples of the answers that are plain JSON objects, for the OpenAPI page: what quality
staff and admins see, with the texts in Russian as they arrive."""

from __future__ import annotations

from typing import Any

RECEIVED_FROM = "received at or after (the time the channel gave, e.g. an e-mail's Date)"


def answer(example: Any, code: int = 200) -> dict[int, dict]:
    """`responses=` of a route whose answer is shown by this example."""
    return {code: {"content": {"application/json": {"example": example}}}}


_LABELS = {"category": "no_show", "is_hard": True, "urgency": "high", "reporter": "client"}

FEEDBACK = {
    "feedback_id": 318,
    "message_id": "chat-58213",
    "target": "prediction",
    "prediction_id": 1042,
    "verdict": "correct",
    "status": "proposed",
    "labels": _LABELS,
    "previous": _LABELS | {"category": "critical_lateness"},
    "annotator": "Мария К.",
    "comment": "ситтер не пришёл вовсе, а не опоздал",
    "created_at": "2026-11-25T07:02:11Z",
    "reviewer": None,
    "reviewed_at": None,
    "review_comment": None,
    "undoes": None,
    "undone_by": None,
}
_TEXT = {"text": "ситтер так и не пришла, собака весь день одна"}
FEEDBACK_LOG = {"total": 1, "offset": 0, "items": [FEEDBACK | _TEXT]}
FEEDBACK_SAVED = FEEDBACK | {"supersedes": []}
FEEDBACK_REVIEWED = FEEDBACK | {
    "status": "confirmed",
    "reviewer": "Олег Д.",
    "reviewed_at": "2026-11-25T07:20:40Z",
}
FEEDBACK_UNDONE = FEEDBACK | {
    "feedback_id": 319,
    "verdict": "undo",
    "status": "confirmed",
    "labels": FEEDBACK["previous"],
    "previous": _LABELS,
    "comment": None,
    "undoes": 318,
}
PROPOSALS = {"total": 1, "offset": 0, "items": [FEEDBACK | _TEXT]}
CLAIM = {
    "message_id": "chat-58214",
    "target": "prediction",
    "claimed_by": "Мария К.",
    "claimed_until": "2026-11-25T07:15:00Z",
}
_KAPPA = {
    "category": {"kappa": 0.72, "agreement": 0.8},
    "is_hard": {"kappa": 0.9, "agreement": 0.95},
    "urgency": {"kappa": 0.61, "agreement": 0.75},
    "reporter": {"kappa": None, "agreement": 1.0},
}
AGREEMENT = {
    "overall": {"pairs": 20, "heads": _KAPPA},
    "people": {"Мария К.": {"pairs": 12, "heads": _KAPPA}},
}

REVIEW_QUEUE = {
    "total": 1,
    "offset": 0,
    "items": [
        {
            "message_id": "chat-58214",
            "prediction_id": 1043,
            "channel": "chat",
            "text": "кот чихает второй день после визита, это нормально?",
            "created_at": "2026-11-25T07:10:00Z",
            "model_version": "4",
            "priority": 0.71,
            "reason": "heads_disagree",
            "labels": {
                "category": "other",
                "is_hard": False,
                "urgency": "normal",
                "reporter": "client",
            },
            "decision": {"review_reasons": ["heads disagree: is_hard 0.55 vs category other"]},
        }
    ],
}

AUDIT = {
    "total": 1,
    "offset": 0,
    "items": [
        {
            "message_id": "v2-exec-0117",
            "source": "annotated/v2_executors.jsonl",
            "channel": "chat",
            "text": "клиентка не оставила ключи у консьержа, жду уже 40 минут",
            "labels": {
                "category": "critical_lateness",
                "is_hard": True,
                "urgency": "high",
                "reporter": "executor",
            },
            "head": "category",
            "given": "critical_lateness",
            "suggested": "other",
            "confidence": 0.83,
            "given_probability": 0.07,
            "decision": {"category": "other"},
        }
    ],
}

WHOAMI = {"role": "quality"}

MODEL = {
    "version": "4",
    "mlflow_run_id": "5f0c1d2e3a4b",
    "created_at": "2026-12-05T10:00:00+00:00",
    "metrics": {"test.category.macro_f1": 0.93},
    "data_hash": "9a1f…",
    "labels": {"urgency": ["critical", "high", "normal", "low"]},
    "review_thresholds": {"category": 0.55},
    "safety_rules": "safety_rules.yaml",
}

RELOAD = {"previous_version": "3", "version": "4"}

VERSIONS = {
    "serving": "4",
    "versions": [
        {
            "version": "4",
            "champion": True,
            "run_id": "5f0c1d2e3a4b",
            "created_at": "2026-12-05T10:00:00+00:00",
            "gate": "passed",
            "note": "правки разбора за неделю",
            "corrections_in_training": 37,
            "test": {"category.macro_f1": 0.93},
        }
    ],
}

EXPORT = {
    "written": ["fb-318"],
    "already_exported": 12,
    "left_out": 0,
    "file": "data/annotated/corrections.jsonl",
    "summary": "1 correction written, 12 exported before",
}

JOB = {
    "job_id": "20261205-100000-3f2a",
    "kind": "train",
    "status": "running",
    "pid": 41230,
    "started_at": "2026-12-05T10:00:00Z",
    "finished_at": None,
    "returncode": None,
    "result": None,
    "error": None,
}

PROMOTE = {
    "candidate": "5",
    "champion": "4",
    "tolerance": 0.02,
    "n_test": 775,
    "passed": True,
    "reasons": [],
    "figures": {"category.macro_f1": {"champion": 0.930, "candidate": 0.934}},
    "promoted": True,
    "table": "head       champion  candidate\ncategory   0.930     0.934",
    "serving": "5",
}

ROLLBACK = {"from": "5", "to": "4", "serving": "4"}

ANSWER = {
    "message_id": "chat-58213",
    "is_hard": True,
    "category": "critical_lateness",
    "urgency": "high",
    "reporter": "client",
    "probabilities": {"is_hard": {"true": 0.94, "false": 0.06}},
    "heads": {
        "category": {
            "label": "critical_lateness",
            "probability": 0.88,
            "alternatives": [{"label": "no_show", "probability": 0.07}],
        }
    },
    "needs_review": False,
    "review_reasons": [],
    "explanation": {"category": [{"feature": "опоздать", "weight": 1.9}]},
    "safety": {"fired": False},
    "model_version": "4",
    "read_as": None,
    "in_domain": True,
    "actions": [
        {
            "type": "hand_over_to_senior_manager",
            "side": "client",
            "to": {"name": "старший менеджер по клиентам", "phone": "+7 900 000-00-02"},
            "via": {
                "hard_case_form": "https://forms.example/hard",
                "senior_managers_chat": "#hard",
            },
            "deadline": "today",
        }
    ],
    "stored": True,
}

STORED = {
    "id": 1042,
    "message_id": "chat-58213",
    "channel": "chat",
    "text": "Ситтер опоздал на два часа, собака сделала лужу. Верните деньги!",
    "is_hard": True,
    "category": "critical_lateness",
    "urgency": "high",
    "reporter": "client",
    "needs_review": False,
    "decision": {"category": "critical_lateness", "urgency": "high"},
    "model_version": "4",
    "sender": None,
    "subject": None,
    "received_at": "2026-11-25T06:15:00Z",
    "created_at": "2026-11-25T06:15:01Z",
    "metadata": {"order": "58213"},
}

EMAIL = """From: =?utf-8?b?0JzQsNGA0LjQvdCw?= <m.sokolova@example.ru>
To: support@petsitter.example
Subject: =?utf-8?b?UmU6INCX0LDQutCw0Lcg4oSWNTgyMTM=?=
Date: Thu, 27 Nov 2025 07:55:00 +0300
Message-ID: <CAF7x2kq@mail.gmail.com>
Content-Type: text/plain; charset=utf-8

Ситтер опоздала на два часа, собака сделала лужу. Верните деньги!

чт, 27 нояб. 2025 г. в 07:00, Поддержка <support@petsitter.example>:
> Здравствуйте! Подскажите, пожалуйста, что случилось?
"""

BATCH = {
    "messages": [
        {
            "message_id": "chat-58213",
            "channel": "chat",
            "text": "Ситтер опоздал на два часа, верните деньги!",
        },
        {
            "message_id": "call-771",
            "channel": "call_note",
            "text": "Исполнитель звонил: кошка выпала с балкона, везёт в клинику",
        },
    ]
}
