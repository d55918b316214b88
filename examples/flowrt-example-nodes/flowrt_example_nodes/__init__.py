"""An example flowrt node plugin package (see docs/plugins.md in flowrt)."""
