"""The HTTP server: the editor, Node-RED's admin API and the ``/comms`` websocket.

One aiohttp application on one port. :mod:`.app` builds it and runs it
(``flowrt run``); each concept has its own module: :mod:`.http` (JSON responses
and the one error shape), :mod:`.flows_api` (``/flows``, ``/flow/:id``),
:mod:`.admin_api` (``/nodes``, ``/settings``, ``/credentials``, ``/inject``,
``/debug``), :mod:`.auth` (tokens and permissions) and :mod:`.login_throttle`
(back-off for failed logins), :mod:`.cross_site` (``Host``, ``Origin`` and
JSON-only bodies), :mod:`.connections` (the listening socket and its connection
cap), :mod:`.comms` (the editor's websocket), :mod:`.health` (``/healthz``,
``/metrics``) and :mod:`.editor` (the editor page, static files and example
flows). docs/security.md describes what they protect.
"""
