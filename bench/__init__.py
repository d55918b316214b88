"""flowrt benchmark harness: runs the same flow on flowrt and on Node-RED and compares them.

Entry point: ``python -m bench.run`` (``make bench``); ``--smoke`` is the 10-second CI check.
Modules: ``mosquitto`` (private brokers), ``nodered`` (install and start Node-RED),
``runtimes`` (how each runtime is spawned), ``flows`` (the flow files), ``scenarios`` (what
each scenario sends and expects), ``measure`` (load, latency, RSS, CPU), ``report``
(Markdown and JSON), ``proc`` (child processes with bounded waits), ``floor`` and
``minimal_relay`` (relay CPU beside the least a Python process can do).
"""
