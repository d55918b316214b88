"""The least a Python process can do to relay MQTT: the floor under flowrt's relay.

``python -m bench.minimal_relay PORT [--loop uvloop|asyncio]`` connects to the broker on
127.0.0.1:PORT (MQTT 3.1.1, clean session), subscribes to ``bench/in/+`` at QoS 0 and
republishes every payload on ``bench/out``: one asyncio ``Protocol``, no node graph, no
message object, no paho, nothing per message beyond parsing the packet and writing the
new one. ``bench.floor`` runs it beside flowrt and Node-RED at the same paced rates, so
the CPU a message costs any Python process on this machine (the wake-up, the system
calls, the loop) is told apart from what flowrt adds to it.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import cast

from bench import flows

CONNECT_FLAGS_CLEAN = 0x02
KEEPALIVE_S = 60


def _string(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        digit, n = n % 128, n // 128
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + _remaining_length(len(body)) + body


class MinimalRelay(asyncio.Protocol):
    """Republishes every PUBLISH it receives on ``flows.OUT_TOPIC`` (QoS 0)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.out_topic = _string(flows.OUT_TOPIC)
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        connect = (_string("MQTT") + bytes([4, CONNECT_FLAGS_CLEAN])
                   + KEEPALIVE_S.to_bytes(2, "big") + _string("minimal-relay"))
        subscribe = (1).to_bytes(2, "big") + _string(flows.IN_TOPIC) + b"\x00"
        self.transport.write(_packet(0x10, connect) + _packet(0x82, subscribe))

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        out = bytearray()
        pos = 0
        while len(buf) - pos >= 2:
            length, multiplier, i = 0, 1, pos + 1
            while i < len(buf):
                byte = buf[i]
                length += (byte & 0x7F) * multiplier
                multiplier *= 128
                i += 1
                if not byte & 0x80:
                    break
            else:
                break  # the length itself is not complete yet
            if len(buf) < i + length:
                break
            if buf[pos] & 0xF0 == 0x30:  # PUBLISH (QoS 0: no packet id)
                topic_length = int.from_bytes(buf[i:i + 2], "big")
                out += _packet(0x30, self.out_topic + buf[i + 2 + topic_length:i + length])
            pos = i + length
        del buf[:pos]
        if out and self.transport is not None:
            self.transport.write(out)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


async def relay(port: int) -> None:
    """Relay until the broker closes the connection."""
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(MinimalRelay, "127.0.0.1", port)
    await protocol.lost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop
        uvloop.run(relay(args.port))
    else:
        asyncio.run(relay(args.port))


if __name__ == "__main__":
    main()
