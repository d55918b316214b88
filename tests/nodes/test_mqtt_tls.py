"""TLS and mutual TLS against a real mosquitto TLS listener (certificates made here)."""

from __future__ import annotations

import datetime
import getpass
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from flowrt.clock import Clock
from flowrt.testing import FlowHarness
from tests.brokers import free_port
from tests.nodes.test_mqtt import TAB, Client, broker_node, connected, mqtt_in, until

pytestmark = pytest.mark.broker


@dataclass
class Pki:
    """A CA, a server certificate and a client certificate, as PEM files and text."""

    dir: Path

    def path(self, name: str) -> str:
        return str(self.dir / name)

    def text(self, name: str) -> str:
        return (self.dir / name).read_text()


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name | None,
                 issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool = False,
                 names: list[x509.GeneralName] | None = None) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(directory: Path) -> Pki:
    """Write ca.pem, server.pem/server.key (for 127.0.0.1 and broker.test) and
    client.pem/client.key, plus other-ca.pem (a CA that signed nothing here)."""
    pem = serialization.Encoding.PEM
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("flowrt test CA", ca_key, None, ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _certificate("broker.test", server_key, ca.subject, ca_key, names=[
        x509.DNSName("broker.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _certificate("edge-device-1", client_key, ca.subject, ca_key)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = _certificate("someone else", other_key, None, other_key, ca=True)
    files = {"ca.pem": ca.public_bytes(pem), "server.pem": server.public_bytes(pem),
             "server.key": _key_pem(server_key), "client.pem": client.public_bytes(pem),
             "client.key": _key_pem(client_key), "other-ca.pem": other.public_bytes(pem)}
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return Pki(directory)


@dataclass
class TlsBroker:
    """A mosquitto with a plain listener (``plain``) and an mTLS listener (``tls_port``)."""

    plain: Any
    tls_port: int
    pki: Pki


@pytest.fixture
def tls_broker(mosquitto_factory: Any, tmp_path: Path) -> TlsBroker:
    pki = make_pki(tmp_path)
    port = free_port()
    broker = mosquitto_factory(extra_config=(
        f"user {getpass.getuser()}\n"
        f"listener {port} 127.0.0.1\ncafile {pki.path('ca.pem')}\n"
        f"certfile {pki.path('server.pem')}\nkeyfile {pki.path('server.key')}\n"
        "require_certificate true\n"))
    return TlsBroker(broker, port, pki)


def tls_flow(broker: TlsBroker, **tls: Any) -> list[dict[str, Any]]:
    return [TAB, broker_node(broker.tls_port, usetls=True, tls="tls1", clientid="mtls"),
            {"id": "tls1", "type": "tls-config", "verifyservercert": True, **tls},
            mqtt_in("secure/#")]


async def test_mtls_with_files(tls_broker: TlsBroker) -> None:
    pki = tls_broker.pki
    flow = tls_flow(tls_broker, ca=pki.path("ca.pem"), cert=pki.path("client.pem"),
                    key=pki.path("client.key"), alpnprotocol="mqtt")
    async with FlowHarness(flow, clock=Clock()) as h:
        await h.wait_for(lambda: connected(h, "in1"))
        plain = Client(tls_broker.plain.port)
        try:
            await until(lambda: _published_through(plain, h))
        finally:
            plain.close()
        assert h.payloads("in1")[-1] == "over-tls"


def _published_through(plain: Client, h: FlowHarness) -> bool:
    # The subscription may not be active at the first try: publish until it arrives.
    if not h.outputs("in1"):
        plain.publish("secure/x", "over-tls")
    return bool(h.outputs("in1"))


async def test_mtls_with_inline_credentials_and_server_name(tls_broker: TlsBroker) -> None:
    pki = tls_broker.pki
    flow = tls_flow(tls_broker, servername="broker.test")
    creds = {"tls1": {"cadata": pki.text("ca.pem"), "certdata": pki.text("client.pem"),
                      "keydata": pki.text("client.key")}}
    async with FlowHarness(flow, clock=Clock(), credentials=creds) as h:
        await h.wait_for(lambda: connected(h, "in1"))


async def test_missing_client_certificate_is_refused(tls_broker: TlsBroker) -> None:
    flow = tls_flow(tls_broker, ca=tls_broker.pki.path("ca.pem"))
    async with FlowHarness(flow, clock=Clock()) as h:
        transport = h.node("b1").transport  # type: ignore[attr-defined]
        await h.wait_for(lambda: transport.stats.failures)
        assert not connected(h, "in1")


async def test_server_certificate_is_verified(tls_broker: TlsBroker) -> None:
    pki = tls_broker.pki
    flow = tls_flow(tls_broker, ca=pki.path("other-ca.pem"), cert=pki.path("client.pem"),
                    key=pki.path("client.key"))
    async with FlowHarness(flow, clock=Clock()) as h:
        transport = h.node("b1").transport  # type: ignore[attr-defined]
        await h.wait_for(lambda: transport.stats.failures)
        assert "CERTIFICATE_VERIFY_FAILED" in transport.stats.failures[0]
    # verifyservercert off: the same unknown CA is accepted.
    flow = tls_flow(tls_broker, ca=pki.path("other-ca.pem"), cert=pki.path("client.pem"),
                    key=pki.path("client.key"), verifyservercert=False)
    async with FlowHarness(flow, clock=Clock()) as h:
        await h.wait_for(lambda: connected(h, "in1"))
