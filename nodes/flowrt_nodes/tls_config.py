"""tls-config: TLS settings shared by network nodes (Node-RED's keys)."""

from __future__ import annotations

import os
import ssl
import tempfile
from typing import Any, ClassVar

from flowrt.node import Node, NodeContext
from flowrt.schema import as_bool, boolean, string


class TlsConfig(Node):
    """TLS options for a connection, used by `mqtt-broker` (with `usetls`).

    * `ca`, `cert`, `key`: paths of PEM files on the runtime's machine; or the same
      content given inline as the credentials `cadata`, `certdata`, `keydata` (what
      Node-RED's editor stores when a file is uploaded). Inline content wins.
    * `passphrase` (credential): the private key's passphrase, if it has one.
    * `verifyservercert` (default true): check the server's certificate chain and
      name. Turn it off only for testing.
    * `servername`: the name sent as SNI and checked against the certificate
      (default: the host the connection goes to).
    * `alpnprotocol`: an ALPN protocol to offer (for example `x-amzn-mqtt-ca`).

    A client certificate and key make the connection mutual TLS. Bad files or
    data are reported as an error naming the field, and connections that use the
    node fail with that message until it is fixed.
    """

    type = "tls-config"
    category = "config"
    inputs = 0
    outputs = 0
    icon = "lock"
    credentials: ClassVar = {"certdata": "text", "keydata": "text", "cadata": "text",
                             "passphrase": "password"}
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""),
        "cert": string("", title="Certificate file", description="path (PEM format)"),
        "key": string("", title="Private key file", description="path (PEM format)"),
        "ca": string("", title="CA certificate file", description="path (PEM format)"),
        # The names of files uploaded in Node-RED's editor (their contents are credentials).
        "certname": string("", title="Uploaded certificate name", **{"x-hidden": True}),
        "keyname": string("", title="Uploaded private key name", **{"x-hidden": True}),
        "caname": string("", title="Uploaded CA certificate name", **{"x-hidden": True}),
        "servername": string("", title="Server name", description="for use with SNI"),
        "verifyservercert": boolean(True, title="Verify server certificate"),
        "alpnprotocol": string("", title="ALPN protocol"),
    }}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self._context: ssl.SSLContext | None = None
        self.problem: str | None = None

    async def start(self) -> None:
        try:
            self._context = self._build()
        except (OSError, ssl.SSLError, ValueError) as exc:
            self.problem = str(exc)
            self.error(f"TLS configuration {self.label!r}: {exc}")

    @property
    def server_name(self) -> str | None:
        """The configured server name (SNI), or None to use the host."""
        return (self.config.get("servername") or "").strip() or None

    def ssl_context(self) -> ssl.SSLContext:
        """The client SSLContext; ValueError naming the problem when the config is bad."""
        if self._context is None:
            raise ValueError(f"TLS configuration {self.label!r} is unusable: "
                             f"{self.problem or 'not started'}")
        return self._context

    def _build(self) -> ssl.SSLContext:
        cfg = self.config
        verify = as_bool(cfg.get("verifyservercert"), True)
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        cadata = self.creds.get("cadata")
        if cadata:
            context.load_verify_locations(cadata=_text(cadata, "cadata"))
        elif cfg.get("ca"):
            context.load_verify_locations(cafile=_existing(cfg["ca"], "ca"))
        cert_data, key_data = self.creds.get("certdata"), self.creds.get("keydata")
        passphrase = self.creds.get("passphrase") or None
        if cert_data or cfg.get("cert"):
            if cert_data:
                _load_inline_chain(context, _text(cert_data, "certdata"),
                                   _text(key_data, "keydata") if key_data else None, passphrase)
            else:
                key_file = _existing(cfg["key"], "key") if cfg.get("key") else None
                context.load_cert_chain(_existing(cfg["cert"], "cert"), key_file, passphrase)
        elif key_data or cfg.get("key"):
            raise ValueError("a private key is set but no certificate (cert or certdata)")
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        alpn = (cfg.get("alpnprotocol") or "").strip()
        if alpn:
            context.set_alpn_protocols([p.strip() for p in alpn.split(",") if p.strip()])
        return context


def _existing(path: str, field: str) -> str:
    if not os.path.isfile(path):
        raise ValueError(f"{field}: file {path!r} does not exist")
    return path


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or "-----BEGIN" not in value:
        raise ValueError(f"{field}: expected PEM text (-----BEGIN ...)")
    return value


def _load_inline_chain(context: ssl.SSLContext, cert: str, key: str | None,
                       passphrase: str | None) -> None:
    # ssl can only load a certificate chain from files: write them to a private
    # temporary directory just long enough to load them.
    with tempfile.TemporaryDirectory(prefix="flowrt-tls-") as tmp:
        cert_path = os.path.join(tmp, "cert.pem")
        _write_private(cert_path, cert)
        key_path = None
        if key is not None:
            key_path = os.path.join(tmp, "key.pem")
            _write_private(key_path, key)
        context.load_cert_chain(cert_path, key_path, passphrase)


def _write_private(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
