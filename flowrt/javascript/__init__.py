"""JavaScript for function nodes: an embedded QuickJS-ng engine and Node-RED's sandbox.

- :mod:`flowrt.javascript.engine`: :class:`JsContext`, one engine context with time,
  memory and stack limits (the only module that imports the engine);
- :mod:`flowrt.javascript.codec`: values across the boundary (JSON text with tags for
  Buffer, Date, NaN, undefined);
- :mod:`flowrt.javascript.sandbox`: :class:`FunctionSandbox`, Node-RED's function-node
  API (``prelude.js``, ``buffer.js``) around a node's compiled code.
"""

from flowrt.javascript.engine import ENGINE, JsContext, JsError, JsTimeout
from flowrt.javascript.sandbox import Entry, FunctionSandbox, JsCompileError, SandboxHost

__all__ = ["ENGINE", "Entry", "FunctionSandbox", "JsCompileError", "JsContext", "JsError",
           "JsTimeout", "SandboxHost"]
