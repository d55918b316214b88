"""The HTTP server: the editor, Node-RED's admin API and the ``/comms`` websocket.

One aiohttp application on one port. :mod:`.app` builds it and runs it
(``flowrt run``); each concept has its own module: :mod:`.http` (JSON responses
and the one error shape), :mod:`.flows_api` (``/flows``, ``/flow/:id``),
:mod:`.admin_api` (``/nodes``, ``/settings``, ``/credentials``, ``/inject``,
``/debug``), :mod:`.auth` (tokens and permissions), :mod:`.comms` (the editor's
websocket), :mod:`.health` (``/healthz``, ``/metrics``) and :mod:`.editor` (the
editor page, static files and example flows).
"""
