"""The paho internals flowrt.mqtt.paho_adapter relies on: a paho release that changes one
fails here, naming the member."""

from __future__ import annotations

import paho.mqtt.client as paho
import pytest

from flowrt.mqtt.paho_adapter import PAHO_PRIVATE_METHODS, paho_incompatibilities


def test_the_installed_paho_has_every_private_member_the_adapter_uses() -> None:
    problems = paho_incompatibilities()
    assert not problems, (
        f"paho-mqtt {paho.__dict__.get('__version__', '?')} changed internals that "
        "flowrt/mqtt/paho_adapter.py relies on:\n" + "\n".join(problems))


def test_a_missing_member_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(paho.Client, "_handle_pubrel")
    assert paho_incompatibilities() == ["paho.Client._handle_pubrel is gone"]


def test_a_changed_signature_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paho.Client, "_send_puback", lambda self, mid, reason: None)
    assert paho_incompatibilities() == [
        "paho.Client._send_puback takes ('self', 'mid', 'reason'), not ('self', 'mid')"]


def test_every_overridden_paho_method_is_listed() -> None:
    from flowrt.mqtt.paho_adapter import LoopClient

    overridden = {name for name in vars(LoopClient)
                  if name.startswith("_") and not name.startswith("__")
                  and hasattr(paho.Client, name)}
    assert overridden <= set(PAHO_PRIVATE_METHODS)
