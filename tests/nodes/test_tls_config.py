"""tls-config: building the SSL context, and errors that name the bad field."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from flowrt.testing import FlowHarness
from tests.nodes.test_mqtt_tls import make_pki


def tls_node(**config: Any) -> list[dict[str, Any]]:
    return [{"id": "tls1", "type": "tls-config", **config}]


async def test_files_build_a_verifying_context(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    flow = tls_node(ca=pki.path("ca.pem"), cert=pki.path("client.pem"),
                    key=pki.path("client.key"), servername="broker.test")
    async with FlowHarness(flow) as h:
        node: Any = h.node("tls1")
        context = node.ssl_context()
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        assert node.server_name == "broker.test"
        assert not h.errors


async def test_verify_off(tmp_path: Path) -> None:
    async with FlowHarness(tls_node(verifyservercert="false")) as h:
        context = h.node("tls1").ssl_context()  # type: ignore[attr-defined]
        assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname
        assert h.node("tls1").server_name is None  # type: ignore[attr-defined]


async def test_missing_file_is_reported_by_field(tmp_path: Path) -> None:
    async with FlowHarness(tls_node(ca=str(tmp_path / "nope.pem"))) as h:
        assert "ca: file" in h.errors[0]["msg"]
        try:
            h.node("tls1").ssl_context()  # type: ignore[attr-defined]
        except ValueError as exc:
            assert "unusable" in str(exc) and "nope.pem" in str(exc)
        else:
            raise AssertionError("ssl_context() should fail")


async def test_bad_inline_data_and_key_without_cert(tmp_path: Path) -> None:
    async with FlowHarness(tls_node(), credentials={"tls1": {"certdata": "garbage"}}) as h:
        assert "certdata: expected PEM" in h.errors[0]["msg"]
    pki = make_pki(tmp_path)
    async with FlowHarness(tls_node(key=pki.path("client.key"))) as h:
        assert "no certificate" in h.errors[0]["msg"]


async def test_broker_with_unusable_tls_shows_the_problem(tmp_path: Path) -> None:
    flow = [{"id": "t1", "type": "tab"},
            {"id": "b1", "type": "mqtt-broker", "broker": "127.0.0.1", "port": "1",
             "usetls": True, "tls": "tls1"},
            {"id": "tls1", "type": "tls-config", "ca": str(tmp_path / "missing.pem")},
            {"id": "in1", "type": "mqtt in", "z": "t1", "topic": "x", "broker": "b1",
             "x": 0, "y": 0, "wires": [[]]}]
    async with FlowHarness(flow) as h:
        assert h.status("in1")["fill"] == "red"
        assert "missing.pem" in h.status("in1")["text"]
