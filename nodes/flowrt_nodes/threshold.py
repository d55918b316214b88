"""threshold: warning and critical alerts per device, with hysteresis and cooldown.

The state of every key and rule that is not back to normal lives in the node's
context (one dict under ``state``), so it survives the node being redeployed and,
with a persistent context store, a restart. Keys return to normal → their entry
is deleted, which keeps the state as small as the set of keys in alert.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from flowrt.messages import Message, get_property, parse_path
from flowrt.node import Node, NodeContext
from flowrt.schema import as_bool, as_number, boolean, integer, number, string

LEVELS = ("normal", "warning", "critical")
_MISSING: Any = object()
_NO_KEY = "_no_key"
_LIMIT = {**number(None, allow_empty=True), "anyOf": [
    *number(None, allow_empty=True)["anyOf"], {"type": "null"}], "default": None}


class _Rule:
    """One configured rule, with its numbers parsed and its direction folded into a sign."""

    __slots__ = ("direction", "hysteresis", "id", "limits", "metric", "property", "sign")

    def __init__(self, spec: dict[str, Any], index: int) -> None:
        where = f"rules[{index}]"
        self.property = str(spec.get("property") or "payload")
        try:
            parse_path(self.property)
        except ValueError as exc:
            raise ValueError(f"{where}.property: {exc}") from None
        self.direction = spec.get("direction") or "above"
        if self.direction not in ("above", "below"):
            raise ValueError(f"{where}.direction must be 'above' or 'below', "
                             f"not {self.direction!r}")
        self.sign = 1.0 if self.direction == "above" else -1.0
        warning, critical = as_number(spec.get("warning")), as_number(spec.get("critical"))
        if warning is None and critical is None:
            raise ValueError(f"{where}: set a warning or a critical threshold (or both)")
        if warning is not None and critical is not None and \
                self.sign * critical < self.sign * warning:
            raise ValueError(f"{where}: critical {critical:g} must be {self.direction} "
                             f"warning {warning:g}")
        self.limits: tuple[float | None, ...] = (None, warning, critical)
        self.hysteresis = abs(as_number(spec.get("hysteresis"), 0.0) or 0.0)
        self.metric = str(spec.get("label") or self.property)
        self.id = f"{self.metric}|{self.direction}"

    def level(self, value: float, current: int) -> int:
        """The level ``value`` puts a key in, coming from level ``current``.

        Rising needs the value strictly past a threshold; falling back needs it past the
        threshold by ``hysteresis`` (so a value hovering at a limit does not flap).
        """
        x = self.sign * value
        raw = 0
        for level in (2, 1):
            limit = self.limits[level]
            if limit is not None and x > self.sign * limit:
                raw = level
                break
        for level in range(current, raw, -1):
            limit = self.limits[level]
            if limit is not None and x > self.sign * limit - self.hysteresis:
                return level
        return raw

    def boundary(self, level: int) -> float:
        """The threshold an alert of ``level`` reports (for clear: the lowest one)."""
        limit = self.limits[level] if level else None
        if limit is None:
            limit = self.limits[1] if self.limits[1] is not None else self.limits[2]
        assert limit is not None
        return limit


class Threshold(Node):
    """Raises warning and critical alerts when readings cross thresholds, per device.

    `rules`: a list of `{property, direction ("above"/"below"), warning, critical,
    hysteresis, label}`; either threshold may be null. `key` (default `topic`) is the message
    property naming the device; each key and rule has its own state: normal → warning →
    critical.

    - A value strictly beyond a threshold raises the level; the alert goes out at once,
      even inside the cooldown (escalation is never suppressed).
    - Falling back needs the value to come back past the threshold by `hysteresis`. A change
      to a lower level alerts at once: `warning` when dropping from critical, one `clear` on
      the return to normal.
    - Staying at warning or critical re-alerts only once `cooldown` seconds (default 30)
      have passed since the last alert of that level for that key and rule.

    **Output 1**, alerts: `msg.topic = "alert/<key>/<label or property>"`, `msg.level`,
    `msg.payload = {key, metric, level, value, threshold, direction, timestamp (ms),
    message}`. **Output 2**: every input message, unchanged (off with `passthrough` false).

    Values may be numbers, numeric text or booleans; a rule whose property is missing from a
    message is skipped, and a non-numeric value (or a message with none of the rules'
    properties) is reported with a warning and counted. The status shows how many keys are in
    warning and critical. The state is kept in node context (`contextStore`, default the
    default store): with a persistent store it survives restarts.
    """

    type = "threshold"
    category = "function"
    outputs = 2
    color = "#F3B567"
    icon = "alert"
    schema: ClassVar = {"type": "object", "properties": {
        "name": string(""),
        "rules": {"type": "array", "default": [], "title": "Rules", "items": {
            "type": "object", "required": ["property"], "properties": {
                "property": {"type": "string", "minLength": 1, "title": "Property (msg.)"},
                "direction": {"enum": ["above", "below"], "default": "above",
                              "title": "Alert when the value is",
                              "x-labels": {"above": "above the limits",
                                           "below": "below the limits"}},
                "warning": {**_LIMIT, "title": "Warning limit"},
                "critical": {**_LIMIT, "title": "Critical limit"},
                "hysteresis": number(0, minimum=0, allow_empty=True, title="Hysteresis"),
                "label": {"type": "string", "default": "", "title": "Label"}}}},
        "key": string("topic", title="Device key property"),
        "cooldown": number(30, minimum=0, title="Cooldown (seconds)"),
        "passthrough": boolean(True, title="Pass every message on output 2"),
        "outputs": integer(2, minimum=2, title="Outputs", **{"x-hidden": True}),
        "contextStore": string("", title="Context store for the alert state"),
    }}
    editor: ClassVar = {"label": "name", "order": ["rules", "key", "cooldown", "passthrough",
                                                   "contextStore"]}

    def __init__(self, config: dict[str, Any], ctx: NodeContext) -> None:
        super().__init__(config, ctx)
        self._rules = [_Rule(spec, i) for i, spec in enumerate(config.get("rules") or ())]
        self._key = str(config.get("key") or "topic")
        parse_path(self._key)  # now, so that a bad path fails the deploy
        self._cooldown = as_number(config.get("cooldown"), 30.0) or 0.0
        self._passthrough = as_bool(config.get("passthrough"), True)
        self._store = config.get("contextStore") or None
        self._state: dict[str, dict[str, dict[str, Any]]] = {}
        self.rejected = 0

    async def start(self) -> None:
        saved = self.context.get("state", self._store)
        rule_ids = {rule.id for rule in self._rules}
        state: dict[str, dict[str, dict[str, Any]]] = {}
        if isinstance(saved, dict):
            for key, rules in saved.items():
                kept = {rid: entry for rid, entry in rules.items()
                        if rid in rule_ids and _valid_entry(entry)} \
                    if isinstance(rules, dict) else {}
                if kept:
                    state[key] = kept
        self._state = state
        self._save()
        self._show_status()

    def on_input(self, msg: Message) -> None:
        raw_key = get_property(msg, self._key)
        key = raw_key if type(raw_key) is str else "" if raw_key is None else str(raw_key)
        key = key or _NO_KEY
        alerts: list[Message] = []
        found = changed = False
        rejected = self.rejected
        for rule in self._rules:
            raw = get_property(msg, rule.property, _MISSING)
            if raw is _MISSING:
                continue
            found = True
            value = as_number(raw)
            if value is None or not math.isfinite(value):
                self.rejected += 1
                self.warn(f"{key}: {rule.property} is not a number ({raw!r:.40}); rule "
                          f"{rule.metric} skipped")
                continue
            changed = self._evaluate(rule, key, value, alerts) or changed
        if not found and self._rules:
            self.rejected += 1
            self.warn(f"{key}: none of {', '.join(r.property for r in self._rules)} in the "
                      "message")
        if changed:
            self._save()
        if changed or rejected != self.rejected:
            self._show_status()
        self.send([alerts or None, msg if self._passthrough else None])

    def _evaluate(self, rule: _Rule, key: str, value: float, alerts: list[Message]) -> bool:
        """Update one key's state for one rule; True when the state changed."""
        entries = self._state.get(key)
        entry = entries.get(rule.id) if entries else None
        current = LEVELS.index(entry["level"]) if entry else 0
        level = rule.level(value, current)
        if level == current == 0:
            return False
        now = self.clock.time()
        if level == current:
            assert entry is not None
            if now - entry["alerted"].get(LEVELS[level], -math.inf) < self._cooldown:
                return False
        alerts.append(self._alert(rule, key, value, level, now))
        if level == 0:
            assert entries is not None
            del entries[rule.id]
            if not entries:
                del self._state[key]
            return True
        if entry is None:
            entry = self._state.setdefault(key, {})[rule.id] = {"level": "", "alerted": {}}
        entry["level"] = LEVELS[level]
        entry["alerted"][LEVELS[level]] = now
        return True

    def _alert(self, rule: _Rule, key: str, value: float, level: int, now: float) -> Message:
        name = LEVELS[level] if level else "clear"
        limit = rule.boundary(level)
        if level:
            text = f"{key} {rule.metric} {value:g} {rule.direction} {name} threshold {limit:g}"
        else:
            text = f"{key} {rule.metric} back to normal ({value:g})"
        return {"topic": f"alert/{key}/{rule.metric}", "level": name, "payload": {
            "key": key, "metric": rule.metric, "level": name, "value": value,
            "threshold": limit, "direction": rule.direction, "timestamp": round(now * 1000),
            "message": text}}

    def _save(self) -> None:
        self.context.set("state", self._state or None, self._store)

    def _show_status(self) -> None:
        counts = [0, 0, 0]
        for entries in self._state.values():
            counts[max(LEVELS.index(e["level"]) for e in entries.values())] += 1
        text = f"{counts[1]} warning, {counts[2]} critical" if any(counts) else "all normal"
        if self.rejected:
            text += f", {self.rejected} rejected"
        fill = "red" if counts[2] else "yellow" if counts[1] else "green"
        self.status(fill=fill, shape="dot", text=text)


def _valid_entry(entry: Any) -> bool:
    """True for a saved ``{"level", "alerted"}`` entry this version can use."""
    return (isinstance(entry, dict) and entry.get("level") in LEVELS[1:]
            and isinstance(entry.get("alerted"), dict))
