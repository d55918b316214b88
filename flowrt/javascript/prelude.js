// The sandbox of a JavaScript function node: what Node-RED's function node gives its
// code (node, context, flow, global, env, RED.util, util, console, timers, Buffer),
// and the entries Python calls (globalThis.__flowrt).
//
// What the code does that Python must act on (send, status, logs, errors, a message
// done) goes into an outbox, in order; every entry returns the outbox as one JSON
// array, so a message costs one crossing. Context and env are synchronous Python
// calls (__flowrt_host_*), removed from the global scope once captured here.
(function () {
  "use strict";
  const TAG = "$flowrt$";
  const hostContext = globalThis.__flowrt_host_context;
  const hostEnv = globalThis.__flowrt_host_env;
  const hostTimer = globalThis.__flowrt_host_timer;
  delete globalThis.__flowrt_host_context;
  delete globalThis.__flowrt_host_env;
  delete globalThis.__flowrt_host_timer;
  const Buffer = globalThis.Buffer;

  // ------------------------------------------------------------ values across
  // Date and Buffer become tags while (and only while) encode() runs: a flag read by
  // their toJSON, installed once (replacing the methods for each encoding would cost
  // more than the encoding itself).
  let encoding = false;
  const dateToJSON = Date.prototype.toJSON;
  const bufferToJSON = Buffer.prototype.toJSON;
  Object.defineProperty(Date.prototype, "toJSON", {
    configurable: true, writable: true, enumerable: false,
    value: function toJSON(key) {
      if (!encoding) return dateToJSON.call(this, key);
      const ms = this.getTime();
      return Number.isNaN(ms) ? null : { [TAG]: "Date", ms: ms };
    },
  });
  Object.defineProperty(Buffer.prototype, "toJSON", {
    configurable: true, writable: true, enumerable: false,
    value: function toJSON() {
      return encoding ? { [TAG]: "Buffer", data: this.toString("base64") }
        : bufferToJSON.call(this);
    },
  });
  function numberTag(key, value) {
    if (typeof value === "number" && !Number.isFinite(value)) {
      return { [TAG]: "number", value: String(value) };
    }
    return value;
  }
  function encode(value) {
    encoding = true;
    try {
      let text = JSON.stringify(value);
      // NaN and infinities become null: only then is the slower form needed.
      if (text !== undefined && text.indexOf("null") >= 0) text = JSON.stringify(value, numberTag);
      return text === undefined ? "null" : text;
    } finally {
      encoding = false;
    }
  }
  function repair() { encoding = false; }
  // A Buffer from Python arrives as base64. Turning it into bytes costs about 0.1 µs a
  // byte in the engine, so it happens only when the code reads the property: until
  // then the property is an accessor, and a message passed on untouched carries the
  // base64 text back as it came.
  function bufferOf(data) {
    const bin = atob(data);
    const n = bin.length;
    const out = new Buffer(n);
    for (let i = 0; i < n; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function settle(holder, key, value) {
    Object.defineProperty(holder, key, { value: value, writable: true, enumerable: true,
                                         configurable: true });
  }
  function lazyBuffer(holder, key, data) {
    Object.defineProperty(holder, key, {
      enumerable: true, configurable: true,
      get: function () {
        if (encoding) return { [TAG]: "Buffer", data: data };
        const buffer = bufferOf(data);
        settle(holder, key, buffer);
        return buffer;
      },
      set: function (value) { settle(holder, key, value); },
    });
  }
  function isBufferTag(value) {
    return value !== null && typeof value === "object" && value[TAG] === "Buffer";
  }
  function revive(key, value) {
    if (value === null || typeof value !== "object") return value;
    const kind = value[TAG];
    if (typeof kind === "string") {
      switch (kind) {
        case "Buffer": return value; // made lazy by its holder, below
        case "Date": return new Date(value.ms);
        case "number": return Number(value.value);
        case "undefined": return undefined;
      }
    }
    const keys = Object.keys(value);
    for (let i = 0; i < keys.length; i++) {
      const item = value[keys[i]];
      if (isBufferTag(item)) lazyBuffer(value, keys[i], item.data);
    }
    return value;
  }
  function decode(text, tagged) {
    if (!tagged) return JSON.parse(text);
    const value = JSON.parse(text, revive);
    return isBufferTag(value) ? bufferOf(value.data) : value;
  }

  // A string that goes to Python must be flat: QuickJS-ng keeps a long concatenation as
  // a rope, which the binding cannot convert ("Unknown quickjs tag: -6"). Array.join and
  // JSON.stringify build flat strings.
  function flat(s) { return [s].join(""); }

  // ------------------------------------------------------------ the outbox
  let outbox = [];
  function post(entry) { outbox.push(JSON.stringify(entry)); }
  function flush() {
    if (fetched.size !== 0) writeBack();
    if (outbox.length === 0) return "";
    const parts = outbox;
    outbox = [];
    for (let i = 0; i < parts.length; i++) {
      if (typeof parts[i] !== "string") parts[i] = '["s",' + encode(parts[i].outputs) + "]";
    }
    return ["[", parts.join(","), "]"].join("");
  }

  function text(value) {
    if (typeof value === "string") return value;
    if (value instanceof Error) return String(value);
    try {
      const json = JSON.stringify(value);
      return json === undefined ? String(value) : json;
    } catch (e) {
      return String(value);
    }
  }

  // How an error the code threw (or passed to node.done) reads at catch nodes.
  function errorText(err) {
    if (err instanceof Error) {
      if (err.name === "ReferenceError") {
        // As Node-RED words it: the name twice, and where in the user's code.
        return "ReferenceError: ReferenceError: " + err.message + position(err);
      }
      return String(err);
    }
    if (typeof err === "string") return err;
    const json = JSON.stringify(err);
    return json === undefined ? String(err) : json;
  }
  function position(err) {
    const found = /<input>:(\d+):(\d+)/.exec(String(err.stack));
    // Every piece of user code starts on the second line of what was compiled.
    return found ? " (line " + (Number(found[1]) - 1) + ", col " + found[2] + ")" : "";
  }

  // ------------------------------------------------------------ sending
  function sendResults(msgid, msgs, cloneFirst) {
    if (msgs === null || msgs === undefined) return;
    if (!Array.isArray(msgs)) msgs = [msgs];
    let count = 0;
    const outputs = [];
    for (let m = 0; m < msgs.length; m++) {
      let group = msgs[m];
      if (!group) { outputs.push(null); continue; }
      if (!Array.isArray(group)) group = [group];
      const list = [];
      for (let n = 0; n < group.length; n++) {
        const one = group[n];
        if (one === null || one === undefined) continue;
        if (typeof one === "object" && !Buffer.isBuffer(one) && !Array.isArray(one)) {
          one._msgid = msgid;
          count++;
          list.push(one);
        } else {
          let type = typeof one;
          if (type === "object") type = Buffer.isBuffer(one) ? "Buffer" : "Array";
          post(["l", "error", "Function tried to send a message of type " + type]);
        }
      }
      outputs.push(list);
    }
    if (count === 0) return;
    // A clone is a copy made now: encoding it is that copy. Without one, the messages
    // are encoded when the outbox leaves, so later changes travel with them (as the
    // receiver would see them in Node-RED, whose delivery is asynchronous too).
    if (cloneFirst !== false) outbox.push('["s",' + encode(outputs) + "]");
    else outbox.push({ outputs: outputs });
  }

  // ------------------------------------------------------------ node
  const info = { id: "", name: "", path: "", outputCount: 1 };
  let usesDone = false;
  let mentionsNode = true;
  const closeHandlers = [];
  const base = {
    log: function (v) { post(["l", "info", text(v)]); },
    warn: function (v) { post(["l", "warn", text(v)]); },
    debug: function (v) { post(["l", "debug", text(v)]); },
    trace: function (v) { post(["l", "trace", text(v)]); },
    error: function (err, msg) {
      // Only with a message object does the error reach catch nodes (Node-RED's rule).
      // An error object passed here reads as its String(), as in Node-RED.
      const message = err instanceof Error ? String(err) : errorText(err);
      if (msg !== null && typeof msg === "object") {
        outbox.push('["e",' + JSON.stringify(message) + "," + encode(msg) + "]");
      } else {
        post(["e", message, null]);
      }
    },
    status: function (s) {
      if (s === undefined || s === null) s = {};
      else if (typeof s !== "object") s = { text: String(s) };
      else if (s.text !== undefined && typeof s.text !== "string") {
        s = Object.assign({}, s, { text: String(s.text) });
      }
      post(["st", s]);
    },
    on: function (event, handler) {
      if (event === "input") throw new Error("Cannot add listener to 'input' event within Function");
      if (event === "close" && typeof handler === "function") closeHandlers.push(handler);
    },
  };
  for (const key of ["id", "name", "path", "outputCount"]) {
    Object.defineProperty(base, key, { get: () => info[key], enumerable: true });
  }

  // One per message: `send` and `done` belong to that message (code may keep `node`
  // in a timer or a promise and call them later).
  function Run(msgid, token) {
    this.msgid = msgid;
    this.token = token;
    this.finished = false;
  }
  function makeNode(run) {
    if (!mentionsNode) return base;
    const node = Object.create(base);
    node.send = function (msgs, cloneMsg) { sendResults(run.msgid, msgs, cloneMsg); };
    node.done = function (err) { finish(run, err); };
    return node;
  }
  function finish(run, err, thrown) {
    if (run.finished) return;
    run.finished = true;
    if (thrown && (err === undefined || err === null)) {
      // What the engine throws when it cannot even build the error object.
      post(["d", run.token, "InternalError: out of memory, or the code threw " + err]);
    } else if (err === undefined || err === null) {
      outbox.push('["d",' + run.token + ",null]");
    } else {
      post(["d", run.token, errorText(err)]);
    }
  }

  // ------------------------------------------------------------ context, env
  // Node-RED's memory store hands out the stored object itself, so code may change a
  // value in place without `set` and still see the change next time. Here `get` answers
  // a copy; objects read during a run are the same object for the whole run, and are
  // written back at its end when they changed.
  const fetched = new Map();
  function writeBack() {
    for (const f of fetched.values()) {
      if (encode(f.value) !== f.text) {
        hostContext(f.scope, "set", f.store === undefined ? null : flat(String(f.store)),
                    encode([f.key, f.value]));
      }
    }
    fetched.clear();
  }

  function contextApi(scope) {
    function call(op, store, args, callback) {
      if (callback !== undefined && typeof callback !== "function") {
        throw new Error("Callback must be a function");
      }
      const answer = hostContext(scope, op, store === undefined ? null : flat(String(store)),
                                 encode(args));
      if (answer[0] === "!") {
        const err = new Error(answer.slice(1));
        if (callback) { callback(err); return undefined; }
        throw err;
      }
      let value = decode(answer.slice(2), answer[1] === "t");
      if (op === "get" && typeof args[0] === "string" && value !== null
          && typeof value === "object") {
        const id = scope + "\u0000" + store + "\u0000" + args[0];
        const seen = fetched.get(id);
        if (seen !== undefined) value = seen.value;
        else fetched.set(id, { scope: scope, store: store, key: args[0], value: value,
                               text: encode(value) });
      } else if (op === "set") {
        const keys = Array.isArray(args[0]) ? args[0] : [args[0]];
        for (const key of keys) fetched.delete(scope + "\u0000" + store + "\u0000" + key);
        // What was set is the stored object for the rest of the run, as in Node-RED.
        if (typeof args[0] === "string" && args[1] !== null && typeof args[1] === "object") {
          fetched.set(scope + "\u0000" + store + "\u0000" + args[0],
                      { scope: scope, store: store, key: args[0], value: args[1],
                        text: encode(args[1]) });
        }
      }
      if (callback) {
        if (op === "get" && Array.isArray(args[0])) callback(null, ...value);
        else if (op === "set") callback(null);
        else callback(null, value);
        return undefined;
      }
      return op === "set" ? undefined : value;
    }
    return {
      get: function (key, store, callback) {
        if (typeof store === "function") { callback = store; store = undefined; }
        return call("get", store, [key], callback);
      },
      set: function (key, value, store, callback) {
        if (typeof store === "function") { callback = store; store = undefined; }
        return call("set", store, [key, value === undefined ? null : value], callback);
      },
      keys: function (store, callback) {
        if (typeof store === "function") { callback = store; store = undefined; }
        return call("keys", store, [], callback);
      },
    };
  }
  const flowContext = contextApi("flow");
  const globalContext = contextApi("global");
  const nodeContext = contextApi("node");
  Object.defineProperty(nodeContext, "flow", { get: () => flowContext });
  Object.defineProperty(nodeContext, "global", { get: () => globalContext });
  const env = {
    get: function (name) {
      const answer = hostEnv(flat(String(name)));
      return decode(answer.slice(1), answer[0] === "t");
    },
  };

  // ------------------------------------------------------------ timers
  const timers = new Map();
  let timerSeq = 0;
  function addTimer(fn, delay, args, repeat) {
    const id = ++timerSeq;
    timers.set(id, { fn: fn, args: args, repeat: repeat });
    hostTimer(repeat ? "every" : "once", id, Math.max(0, Number(delay) || 0));
    return id;
  }
  function clearTimer(id) {
    if (timers.delete(id)) hostTimer("clear", id, 0);
  }
  function setTimeout(fn, delay, ...args) { return addTimer(fn, delay, args, false); }
  function setInterval(fn, delay, ...args) { return addTimer(fn, delay, args, true); }
  function fire(id) {
    const timer = timers.get(id);
    if (timer === undefined) return flush();
    if (!timer.repeat) timers.delete(id);
    if (typeof timer.fn === "function") {
      try {
        timer.fn.apply(null, timer.args);
      } catch (err) {
        // Node-RED reports it with an empty message, so catch nodes receive it.
        base.error(err, {});
      }
    }
    return flush();
  }
  function promisify(fn) {
    if (fn === setTimeout) {
      return (delay, value) => new Promise((resolve) => setTimeout(resolve, delay, value));
    }
    return (...args) => new Promise((resolve, reject) => {
      fn(...args, (err, ...values) => (err ? reject(err) : resolve(values.length > 1 ? values
                                                                         : values[0])));
    });
  }

  // ------------------------------------------------------------ RED.util, util
  function clone(value) {
    if (value === null || typeof value !== "object") return value;
    if (Buffer.isBuffer(value)) return Buffer.from(value);
    if (value instanceof Date) return new Date(value.getTime());
    if (Array.isArray(value)) return value.map(clone);
    const copy = {};
    for (const key of Object.keys(value)) {
      copy[key] = (key === "req" || key === "res") ? value[key] : clone(value[key]);
    }
    return copy;
  }
  function parsePath(expr) {
    const keys = [];
    const re = /\.?([^.[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\['((?:[^'\\]|\\.)*)'\]/y;
    let at = 0;
    expr = String(expr).trim();
    while (at < expr.length) {
      re.lastIndex = at;
      const m = re.exec(expr);
      if (!m || re.lastIndex === at) throw new Error("Invalid property expression: " + expr);
      keys.push(m[2] !== undefined ? Number(m[2]) : (m[1] !== undefined ? m[1]
                : (m[3] !== undefined ? m[3] : m[4])));
      at = re.lastIndex;
    }
    return keys;
  }
  function stripMsg(expr) { return String(expr).startsWith("msg.") ? expr.slice(4) : expr; }
  function getObjectProperty(obj, expr) {
    let value = obj;
    for (const key of parsePath(expr)) {
      if (value === null || value === undefined) return undefined;
      value = value[key];
    }
    return value;
  }
  function setObjectProperty(obj, expr, value, createMissing) {
    const keys = parsePath(expr);
    let target = obj;
    for (let i = 0; i < keys.length - 1; i++) {
      let next = target[keys[i]];
      if (next === undefined || next === null) {
        if (createMissing === false) return false;
        next = typeof keys[i + 1] === "number" ? [] : {};
        target[keys[i]] = next;
      } else if (typeof next !== "object") {
        return false;
      }
      target = next;
    }
    if (value === undefined) delete target[keys[keys.length - 1]];
    else target[keys[keys.length - 1]] = value;
    return true;
  }
  function generateId() {
    let id = "";
    for (let i = 0; i < 8; i++) id += ((Math.random() * 256) | 0).toString(16).padStart(2, "0");
    return id;
  }
  function format(first, ...rest) {
    if (typeof first !== "string") return [first, ...rest].map(text).join(" ");
    let i = 0;
    const out = first.replace(/%[sdifjoO%]/g, (spec) => {
      if (spec === "%%") return "%";
      if (i >= rest.length) return spec;
      const value = rest[i++];
      switch (spec) {
        case "%s": return typeof value === "string" ? value : text(value);
        case "%d": case "%i": return String(parseInt(value, 10));
        case "%f": return String(parseFloat(value));
        default: return text(value);
      }
    });
    return [out, ...rest.slice(i).map(text)].join(" ");
  }
  const RED = {
    util: {
      cloneMessage: clone,
      getMessageProperty: (msg, expr) => getObjectProperty(msg, stripMsg(expr)),
      setMessageProperty: (msg, expr, value, createMissing) =>
        setObjectProperty(msg, stripMsg(expr), value, createMissing),
      getObjectProperty: getObjectProperty,
      setObjectProperty: setObjectProperty,
      generateId: generateId,
      getSetting: (node, name) => env.get(name),
    },
  };
  const util = {
    format: format,
    inspect: (value) => text(value),
    promisify: promisify,
    isDeepStrictEqual: (a, b) => encode(a) === encode(b),
  };
  const console = {
    log: (...args) => post(["c", "info", format(...args)]),
    info: (...args) => post(["c", "info", format(...args)]),
    debug: (...args) => post(["c", "debug", format(...args)]),
    warn: (...args) => post(["c", "warn", format(...args)]),
    error: (...args) => post(["c", "error", format(...args)]),
  };

  Object.assign(globalThis, {
    context: nodeContext, flow: flowContext, global: globalContext, env: env,
    RED: RED, util: util, console: console, promisify: promisify,
    setTimeout: setTimeout, clearTimeout: clearTimer,
    setInterval: setInterval, clearInterval: clearTimer,
  });

  // ------------------------------------------------------------ entries
  const code = { func: null, initialize: null, finalize: null };

  function isThenable(value) {
    return value !== null && typeof value === "object" && typeof value.then === "function";
  }

  globalThis.__flowrt = {
    code: code,
    repair: repair,
    flush: flush,
    configure: function (config) {
      Object.assign(info, JSON.parse(config));
      usesDone = info.usesDone;
      mentionsNode = info.mentionsNode;
    },
    input: function (textIn, tagged, token) {
      const msg = decode(textIn, tagged);
      const run = new Run(msg._msgid, token);
      let result;
      try {
        result = code.func(msg, makeNode(run));
      } catch (err) {
        finish(run, err, true);
        return flush();
      }
      if (isThenable(result)) {
        result.then(function (value) {
          sendResults(run.msgid, value, false);
          if (!usesDone) finish(run);
        }, function (err) { finish(run, err, true); });
        return flush();
      }
      if (fetched.size !== 0) writeBack();
      if (outbox.length === 0 && !usesDone && result !== null && typeof result === "object"
          && !Array.isArray(result) && !Buffer.isBuffer(result)) {
        // The common case (one message returned, nothing else done) in one string.
        result._msgid = run.msgid;
        return ['[["s",[[', encode(result), ']]],["d",', token, ",null]]"].join("");
      }
      sendResults(run.msgid, result, false);
      if (!usesDone) finish(run);
      return flush();
    },
    initialize: function () {
      const node = Object.create(base);
      node.send = function (msgs, cloneMsg) { sendResults(generateId(), msgs, cloneMsg); };
      let result;
      try {
        result = code.initialize(node);
      } catch (err) {
        post(["i", errorText(err)]);
        return flush();
      }
      Promise.resolve(result).then(function () { post(["i", null]); },
                                   function (err) { post(["i", errorText(err)]); });
      return flush();
    },
    fire: fire,
    close: function (removed) {
      const node = Object.create(base);
      node.send = function () { post(["l", "error", "Cannot send from close function"]); };
      if (code.finalize) {
        try {
          code.finalize(node);
        } catch (err) {
          post(["l", "error", errorText(err)]);
        }
      }
      for (const handler of closeHandlers) {
        try {
          if (handler.length >= 2) handler(removed, function () {});
          else if (handler.length === 1) handler(function () {});
          else handler();
        } catch (err) {
          post(["l", "error", errorText(err)]);
        }
      }
      timers.clear();
      return flush();
    },
  };
})();
