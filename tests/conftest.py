"""Shared fixtures: real mosquitto brokers on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.brokers import Mosquitto


@pytest.fixture
def mosquitto() -> Iterator[Mosquitto]:
    """A private mosquitto broker for one test (``.port``, ``.stop()``, ``.restart()``)."""
    broker = Mosquitto().start()
    yield broker
    broker.cleanup()


@pytest.fixture
def mosquitto_factory() -> Iterator[type[Mosquitto]]:
    """Start more brokers (e.g. a local one and a "cloud" one): ``mosquitto_factory()``."""
    started: list[Mosquitto] = []

    def make(extra_config: str = "") -> Mosquitto:
        broker = Mosquitto(extra_config=extra_config).start()
        started.append(broker)
        return broker

    yield make  # type: ignore[misc]
    for broker in started:
        broker.cleanup()
