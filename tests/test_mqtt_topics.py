"""Topic filter validation and matching (Node-RED's and MQTT's rules)."""

from __future__ import annotations

import pytest

from flowrt.mqtt import strip_share, topic_matches, valid_filter, valid_topic_name


@pytest.mark.parametrize(("topic_filter", "topic", "expected"), [
    ("a/b", "a/b", True),
    ("a/+", "a/b", True),
    ("a/+", "a/b/c", False),
    ("a/#", "a", True),
    ("a/#", "a/b/c", True),
    ("#", "a/b", True),
    ("+/+", "a/b", True),
    ("+", "a/b", False),
    ("a/+/c", "a/x/c", True),
    ("a/+/c", "a/x/d", False),
    ("#", "$SYS/x", False),
    ("+/x", "$SYS/x", False),
    ("$SYS/#", "$SYS/x", True),
    ("$share/g/a/+", "a/b", True),
    ("a/b", "a/b/c", False),
    ("a//b", "a//b", True),
])
def test_topic_matches(topic_filter: str, topic: str, expected: bool) -> None:
    assert topic_matches(topic_filter, topic) is expected


@pytest.mark.parametrize(("topic", "ok"), [
    ("a/b", True), ("#", True), ("a/#", True), ("+/b/+", True), ("$share/g/t/#", True),
    ("a/#/b", False), ("a/b#", False), ("a+/b", False), ("", False), (3, False),
])
def test_valid_filter(topic: object, ok: bool) -> None:
    assert valid_filter(topic) is ok


@pytest.mark.parametrize(("topic", "ok"), [
    ("a/b", True), ("a/+", False), ("a/#", False), ("", False), ("a\nb", False), (None, False),
])
def test_valid_topic_name(topic: object, ok: bool) -> None:
    assert valid_topic_name(topic) is ok


def test_strip_share() -> None:
    assert strip_share("$share/group/a/b") == "a/b"
    assert strip_share("a/b") == "a/b"
    assert strip_share("$share/group") == ""
