"""The HTTP server: the editor, Node-RED's admin API and the ``/comms`` websocket.

One aiohttp application on one port. :mod:`.app` builds it and runs it
(``flowrt run``); each concept has its own module: :mod:`.http` (JSON responses
and the one error shape), :mod:`.flows_api` (``/flows``, ``/flow/:id``),
:mod:`.admin_api` (``/nodes``, ``/settings``, ``/credentials``, and the routes node
types add, such as ``/inject`` and ``/debug``), :mod:`.auth` (tokens and
permissions), :mod:`.auth_routes` (``/auth`` and the token middleware) and
:mod:`.login_throttle` (back-off for failed logins), :mod:`.cross_site` (``Host``,
``Origin`` and JSON-only bodies), :mod:`.connections` (the listening socket and its
connection cap), :mod:`.comms` (the editor's websocket protocol) and
:mod:`.comms_routes` (``/comms``), :mod:`.health` (``/healthz``, ``/metrics``) and
:mod:`.loop_monitor` (event-loop lag), :mod:`.history_routes` (``/history``: the
versions of the flows in project mode), and :mod:`.editor` (the editor page, static
files and example flows). :mod:`.state` is what handlers reach through the
application; it imports no handler module, so nothing here imports in a circle.
docs/security.md describes what they protect.
"""
