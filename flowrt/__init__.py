"""flowrt: a Node-RED-style visual flow runtime for IoT edge and fog gateways."""

__version__ = "0.1.0"
