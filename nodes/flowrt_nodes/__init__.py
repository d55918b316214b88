"""flowrt's built-in node types.

Each module is one node type (or one small family) and is registered through the
``flowrt.nodes`` entry-point group, exactly like a third-party plugin package.
"""
