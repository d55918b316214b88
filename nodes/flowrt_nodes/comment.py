"""comment: a note on the canvas."""

from __future__ import annotations

from typing import ClassVar

from flowrt.node import Node
from flowrt.schema import string


class Comment(Node):
    """A note for the people reading the flow. It does nothing at run time; its
    `info` is shown in the help sidebar."""

    type = "comment"
    category = "common"
    inputs = 0
    outputs = 0
    color = "#ffffff"
    icon = "comment"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""), "info": string("", title="Text (Markdown)")}}
