"""The compat marker and one mosquitto shared by the corpus tests of a module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.brokers import Mosquitto


def pytest_configure(config: pytest.Config) -> None:
    """Register ``compat`` here, beside the only tests that use it."""
    config.addinivalue_line(
        "markers", "compat: runs the real Node-RED flows of tests/compat/flows")


@pytest.fixture(scope="module")
def compat_broker() -> Iterator[Mosquitto]:
    """One private broker for the corpus: every file's mqtt-broker nodes point at it
    (each run connects with fresh client ids and clean sessions)."""
    broker = Mosquitto().start()
    yield broker
    broker.cleanup()
