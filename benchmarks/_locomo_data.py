"""LoCoMo loading for the benchmark: turns as memories, questions with repaired evidence.

The shape and the repair rules are those of the data README
(``../shared/data/locomo/README.md``): iterate over the ``session_N`` lists (not the date
keys), split evidence on ``;``, ``,`` and spaces, turn ``D:11:26`` into ``D11:26`` and
``D30:05`` into ``D30:5``, drop evidence that still names no turn and skip questions left
with none. Pure: no engine, no model.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["CATEGORIES", "Conversation", "Question", "Turn", "load", "parse_session_date", "repair_evidence"]

#: The authors' own category names.
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}

_SESSION_KEY = re.compile(r"^session_(\d+)$")
_EVIDENCE_SPLIT = re.compile(r"[;,\s]+")
_DIA = re.compile(r"^D:?(\d+):0*(\d+)$")


@dataclass(frozen=True, slots=True)
class Turn:
    """One dialogue turn, remembered as one memory."""

    dia_id: str
    speaker: str
    session: int
    created_at: datetime
    content: str


@dataclass(frozen=True, slots=True)
class Question:
    """One question and the turns that answer it."""

    question: str
    category: int
    evidence: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Conversation:
    """One LoCoMo sample: its id (the namespace), turns in order, and questions."""

    sample_id: str
    turns: tuple[Turn, ...]
    questions: tuple[Question, ...]
    dropped_evidence: int
    skipped_questions: int


def parse_session_date(text: str) -> datetime:
    """``"1:56 pm on 8 May, 2023"`` as an aware UTC datetime."""
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def turn_text(turn: dict[str, Any]) -> str:
    """The text the authors embed: ``Speaker said, "text"`` (and `` and shared <caption>``)."""
    text = f'{turn["speaker"]} said, "{turn["text"]}"'
    caption = turn.get("blip_caption")
    return f"{text} and shared {caption}" if caption else text


def repair_evidence(raw: list[Any], known: set[str]) -> tuple[list[str], int]:
    """Evidence ids repaired per the README, and how many still named no turn (dropped)."""
    kept: list[str] = []
    dropped = 0
    for item in raw:
        for piece in _EVIDENCE_SPLIT.split(str(item)):
            if not piece:
                continue
            match = _DIA.match(piece)
            dia = f"D{int(match.group(1))}:{int(match.group(2))}" if match else piece
            if dia in known:
                if dia not in kept:
                    kept.append(dia)
            else:
                dropped += 1
    return kept, dropped


def _conversation(sample: dict[str, Any]) -> Conversation:
    conv = sample["conversation"]
    sessions = sorted(
        (int(m.group(1)), key)
        for key in conv
        if (m := _SESSION_KEY.match(key)) and isinstance(conv[key], list)
    )
    turns: list[Turn] = []
    for number, key in sessions:
        when = parse_session_date(conv[f"{key}_date_time"])
        for raw in conv[key]:
            turns.append(
                Turn(
                    dia_id=raw["dia_id"],
                    speaker=raw["speaker"],
                    session=number,
                    created_at=when,
                    content=turn_text(raw),
                )
            )
    known = {t.dia_id for t in turns}
    questions: list[Question] = []
    dropped = skipped = 0
    for qa in sample["qa"]:
        evidence, lost = repair_evidence(qa.get("evidence") or [], known)
        dropped += lost
        if not evidence:
            skipped += 1
            continue
        questions.append(
            Question(question=qa["question"], category=int(qa["category"]), evidence=tuple(evidence))
        )
    return Conversation(
        sample_id=sample["sample_id"],
        turns=tuple(turns),
        questions=tuple(questions),
        dropped_evidence=dropped,
        skipped_questions=skipped,
    )


def load(path: str | Path, *, limit: int | None = None) -> list[Conversation]:
    """The conversations of a LoCoMo-format JSON file (the first ``limit`` of them)."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of LoCoMo conversations")
    return [_conversation(sample) for sample in data[:limit]]
