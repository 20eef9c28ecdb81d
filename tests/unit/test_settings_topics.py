"""Per-topic partitions in the settings: KAFKA_TOPIC_PARTITIONS (JSON), validated against the known topics."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from todo_core.settings import Settings


def test_topic_partitions_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_PARTITIONS", "6")
    monkeypatch.setenv("KAFKA_DLQ_PARTITIONS", "2")
    monkeypatch.setenv("KAFKA_TOPIC_PARTITIONS", '{"reminder-fire": 24, "audit-append.dlq": 4}')
    s = Settings()
    assert s.partitions_of("reminder-fire") == 24
    assert s.partitions_of("task-events") == 6
    assert s.partitions_of("task-events.dlq") == 2
    assert s.partitions_of("audit-append.dlq") == 4


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"reminder-fires": 24}, "unknown topics ['reminder-fires']"),
        ({"task-events": 0}, "must be 1..1000 for ['task-events']"),
    ],
)
def test_bad_topic_partitions_are_refused_with_the_reason(value: dict[str, int], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Settings(kafka_topic_partitions=value)
