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
    if (changed.size !== 0) writeBack();
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
  // Node-RED's memory store hands out the stored object itself: code changes it in place
  // without `set` and sees the change next time, at no cost per message. Here the store
  // lives in Python, so the sandbox *holds* each object it fetched (by scope, store and
  // key), between runs too, for as long as the store's generation of that key says
  // nobody else set it, and hands the code a proxy that notes the paths the code
  // changes. At the end of a run only those paths go back ("patch"), so a message costs
  // what it changed, not the size of the object (a 10,000-key object cost 14 ms a
  // message when it was copied both ways). Changes inside an array send the array.
  // Plain objects and arrays are held; other values (Buffer, Date) are copies.
  const held = new Map();     // id -> Held
  const changed = new Set();  // Held entries with paths to send back
  const targets = new WeakMap();  // proxy -> the object behind it
  function isPlain(value) {
    if (value === null || typeof value !== "object") return false;
    if (Array.isArray(value)) return true;
    const proto = Object.getPrototypeOf(value);
    return proto === Object.prototype || proto === null;
  }
  function heldId(scope, store, key) { return scope + "\u0000" + store + "\u0000" + key; }
  function unwrap(value) {
    const target = value !== null && typeof value === "object" ? targets.get(value) : undefined;
    return target === undefined ? value : target;
  }
  function Held(scope, store, key, value, gen) {
    this.scope = scope; this.store = store; this.key = key;
    this.value = value; this.gen = gen;
    this.proxies = new WeakMap();  // object -> its proxy, so `a.b === a.b`
    this.paths = new Map();        // JSON of a path -> the path
    this.proxy = this.wrap(value, [], null);
  }
  Held.prototype.note = function (path) {
    this.paths.set(JSON.stringify(path), path);
    changed.add(this);
  };
  Held.prototype.wrap = function (object, path, inArray) {
    let proxy = this.proxies.get(object);
    if (proxy !== undefined) return proxy;
    const entry = this;
    const where = inArray !== null ? inArray : Array.isArray(object) ? path : null;
    function changedAt(prop) { entry.note(where !== null ? where : path.concat([prop])); }
    proxy = new Proxy(object, {
      get: function (target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof prop === "symbol" || !isPlain(value)
            || !Object.prototype.hasOwnProperty.call(target, prop)) return value;
        return entry.wrap(value, path.concat([prop]), where);
      },
      set: function (target, prop, value) {
        const done = Reflect.set(target, prop, unwrap(value));
        if (typeof prop !== "symbol") changedAt(prop);
        return done;
      },
      deleteProperty: function (target, prop) {
        const done = Reflect.deleteProperty(target, prop);
        if (typeof prop !== "symbol") changedAt(prop);
        return done;
      },
      defineProperty: function (target, prop, descriptor) {
        const done = Reflect.defineProperty(target, prop, descriptor);
        if (typeof prop !== "symbol") changedAt(prop);
        return done;
      },
    });
    this.proxies.set(object, proxy);
    targets.set(proxy, object);
    return proxy;
  };
  // The changed paths, none inside another (that one sends it whole), with what each
  // holds now (or ["d", path] when it is gone).
  Held.prototype.patches = function () {
    const paths = Array.from(this.paths.values()).sort((a, b) => a.length - b.length);
    const sent = new Set();
    const patches = [];
    for (const path of paths) {
      let covered = false;
      for (let i = 0; i <= path.length && !covered; i++) {
        covered = sent.has(JSON.stringify(path.slice(0, i)));
      }
      if (covered) continue;
      sent.add(JSON.stringify(path));
      let value = this.value;
      let found = true;
      for (const step of path) {
        if (value === null || typeof value !== "object"
            || !Object.prototype.hasOwnProperty.call(value, step)) {
          found = false;
          break;
        }
        value = value[step];
      }
      patches.push(found ? ["s", path, value] : ["d", path]);
    }
    this.paths.clear();
    return patches;
  };
  function storeArg(store) { return store === undefined ? null : flat(String(store)); }
  function ask(scope, op, store, args) {
    const answer = hostContext(scope, op, storeArg(store), encode(args));
    if (answer[0] === "!") throw new Error(answer.slice(1));
    return decode(answer.slice(2), answer[1] === "t");
  }
  function writeBack() {
    const entries = Array.from(changed);
    changed.clear();
    for (const entry of entries) {
      const gen = ask(entry.scope, "patch", entry.store,
                      [entry.key, entry.gen, entry.patches()]);
      if (gen < 0) held.delete(heldId(entry.scope, entry.store, entry.key));
      else entry.gen = gen;
    }
  }
  function hold(scope, store, key) {
    const id = heldId(scope, store, key);
    const entry = held.get(id);
    const answer = ask(scope, "hold", store, [key, entry === undefined ? -1 : entry.gen]);
    if (answer.length === 1) return entry.proxy;
    const value = answer[1];
    if (!isPlain(value)) {
      held.delete(id);
      return value;
    }
    const fresh = new Held(scope, store, key, value, answer[0]);
    held.set(id, fresh);
    return fresh.proxy;
  }
  function put(scope, store, key, value) {
    const id = heldId(scope, store, key);
    const object = unwrap(value);
    const entry = held.get(id);
    if (entry !== undefined && object === entry.value
        && ask(scope, "hold", store, [key, entry.gen]).length === 1) {
      return;  // the object it holds, unchanged by others: its changes go back as patches
    }
    if (changed.size !== 0) writeBack();  // changes made before this set land first
    const gen = ask(scope, "set", store, [key, object === undefined ? null : object]);
    if (isPlain(object)) {
      const fresh = new Held(scope, store, key, object, gen);
      held.set(id, fresh);
      // The code may still change `object` itself (not the proxy) in this run.
      fresh.note([]);
    } else {
      held.delete(id);
    }
  }

  function contextApi(scope) {
    function call(op, store, args, callback) {
      if (callback !== undefined && typeof callback !== "function") {
        throw new Error("Callback must be a function");
      }
      let value;
      try {
        if (op === "get" && typeof args[0] === "string") value = hold(scope, store, args[0]);
        else if (op === "set" && typeof args[0] === "string") put(scope, store, args[0], args[1]);
        else {
          if (op === "set" && changed.size !== 0) writeBack();
          value = ask(scope, op, store, args);
        }
      } catch (err) {
        if (callback) { callback(err); return undefined; }
        throw err;
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
      if (changed.size !== 0) writeBack();
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
