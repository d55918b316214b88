// Node.js's Buffer, the basics function nodes use: a Uint8Array with encodings
// (utf8, hex, base64, latin1/binary, ascii), from/alloc/concat/isBuffer/byteLength,
// toString, toJSON, equals, slice, and the read/write methods for integers and floats.
(function () {
  "use strict";
  function utf8Bytes(text) {
    const out = [];
    for (let i = 0; i < text.length; i++) {
      let c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++; }
        else c = 0xfffd;
      } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      if (c < 0x80) out.push(c);
      else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return out;
  }

  function utf8Text(bytes, start, end) {
    let s = "";
    for (let i = start; i < end;) {
      const b = bytes[i];
      let c = 0xfffd, n = 1;
      if (b < 0x80) c = b;
      else if (b >= 0xc2 && b < 0xe0 && i + 1 < end && (bytes[i + 1] & 0xc0) === 0x80) {
        c = ((b & 31) << 6) | (bytes[i + 1] & 63); n = 2;
      } else if (b >= 0xe0 && b < 0xf0 && i + 2 < end && (bytes[i + 1] & 0xc0) === 0x80 &&
                 (bytes[i + 2] & 0xc0) === 0x80) {
        c = ((b & 15) << 12) | ((bytes[i + 1] & 63) << 6) | (bytes[i + 2] & 63); n = 3;
        if (c < 0x800 || (c >= 0xd800 && c <= 0xdfff)) { c = 0xfffd; n = 1; }
      } else if (b >= 0xf0 && b < 0xf5 && i + 3 < end && (bytes[i + 1] & 0xc0) === 0x80 &&
                 (bytes[i + 2] & 0xc0) === 0x80 && (bytes[i + 3] & 0xc0) === 0x80) {
        c = ((b & 7) << 18) | ((bytes[i + 1] & 63) << 12) | ((bytes[i + 2] & 63) << 6) |
            (bytes[i + 3] & 63);
        n = 4;
        if (c < 0x10000 || c > 0x10ffff) { c = 0xfffd; n = 1; }
      }
      s += String.fromCodePoint(c);
      i += n;
    }
    return s;
  }

  // Base64 goes through the engine's native atob/btoa where it can: a byte loop in
  // JavaScript is the slow part of moving a Buffer across.
  function latin1Bytes(text) {
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
    return out;
  }

  function latin1Text(bytes, start, end) {
    const parts = [];
    for (let i = start; i < end; i += 8192) {
      parts.push(String.fromCharCode.apply(null, bytes.subarray(i, Math.min(end, i + 8192))));
    }
    return parts.join("");
  }

  function base64Bytes(text) {
    let clean = text.replace(/[^A-Za-z0-9+/\-_]/g, "").replace(/-/g, "+").replace(/_/g, "/");
    const cut = text.indexOf("=");
    if (cut >= 0) {
      clean = text.slice(0, cut).replace(/[^A-Za-z0-9+/\-_]/g, "").replace(/-/g, "+")
        .replace(/_/g, "/");
    }
    if (clean.length % 4 === 1) clean = clean.slice(0, -1); // a lone sixth of a byte
    while (clean.length % 4 !== 0) clean += "=";
    return latin1Bytes(atob(clean));
  }

  function base64Text(bytes, start, end) {
    return btoa(latin1Text(bytes, start, end));
  }

  function hexBytes(text) {
    const out = [];
    for (let i = 0; i + 1 < text.length; i += 2) {
      const v = parseInt(text.substr(i, 2), 16);
      if (Number.isNaN(v)) break;
      out.push(v);
    }
    return out;
  }

  function normalEncoding(encoding) {
    const e = String(encoding === undefined ? "utf8" : encoding).toLowerCase();
    switch (e) {
      case "utf8": case "utf-8": return "utf8";
      case "hex": return "hex";
      case "base64": case "base64url": return "base64";
      case "latin1": case "binary": return "latin1";
      case "ascii": return "ascii";
      default: throw new TypeError("Unknown encoding: " + encoding);
    }
  }

  function textBytes(text, encoding) {
    switch (normalEncoding(encoding)) {
      case "hex": return hexBytes(text);
      case "base64": return base64Bytes(text);
      case "latin1": case "ascii": return latin1Bytes(text);
      default: return utf8Bytes(text);
    }
  }

  class Buffer extends Uint8Array {
    static from(value, encodingOrOffset, length) {
      if (typeof value === "string") {
        const bytes = textBytes(value, encodingOrOffset);
        return bytes instanceof Uint8Array
          ? new Buffer(bytes.buffer, bytes.byteOffset, bytes.length) : new Buffer(bytes);
      }
      if (value instanceof ArrayBuffer) {
        return new Buffer(value, encodingOrOffset || 0,
                          length === undefined ? value.byteLength - (encodingOrOffset || 0) : length);
      }
      if (ArrayBuffer.isView(value)) {
        const copy = new Buffer(value.byteLength);
        copy.set(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
        return copy;
      }
      if (Array.isArray(value)) return new Buffer(value.map((v) => v & 0xff));
      if (value && value.type === "Buffer" && Array.isArray(value.data)) {
        return new Buffer(value.data);
      }
      if (value && typeof value === "object" && typeof value.length === "number") {
        return new Buffer(Array.prototype.slice.call(value));
      }
      throw new TypeError("The first argument must be of type string, Buffer, ArrayBuffer, "
                          + "Array, or Array-like Object. Received " + typeof value);
    }
    static alloc(size, fill, encoding) {
      const b = new Buffer(size);
      if (fill !== undefined && fill !== 0) b.fill(fill, 0, size, encoding);
      return b;
    }
    static allocUnsafe(size) { return new Buffer(size); }
    static isBuffer(value) { return value instanceof Buffer; }
    static isEncoding(encoding) {
      try { normalEncoding(encoding); return true; } catch (e) { return false; }
    }
    static byteLength(value, encoding) {
      if (typeof value === "string") return textBytes(value, encoding).length;
      return value.byteLength;
    }
    static concat(list, totalLength) {
      const total = totalLength === undefined
        ? list.reduce((n, b) => n + b.length, 0) : totalLength;
      const out = Buffer.alloc(total);
      let at = 0;
      for (const b of list) {
        if (at >= total) break;
        const part = b.length > total - at ? b.subarray(0, total - at) : b;
        out.set(part, at);
        at += part.length;
      }
      return out;
    }
    static compare(a, b) { return a.compare(b); }

    toString(encoding, start, end) {
      start = start === undefined ? 0 : Math.max(0, start | 0);
      end = end === undefined ? this.length : Math.min(this.length, end | 0);
      if (end <= start) return "";
      switch (normalEncoding(encoding)) {
        case "hex": {
          let s = "";
          for (let i = start; i < end; i++) s += (this[i] < 16 ? "0" : "") + this[i].toString(16);
          return s;
        }
        case "base64": return base64Text(this, start, end);
        case "latin1": return latin1Text(this, start, end);
        case "ascii": {
          let s = "";
          for (let i = start; i < end; i++) s += String.fromCharCode(this[i] & 0x7f);
          return s;
        }
        default: return utf8Text(this, start, end);
      }
    }
    toJSON() { return { type: "Buffer", data: Array.from(this) }; }
    equals(other) { return this.compare(other) === 0; }
    compare(other) {
      const n = Math.min(this.length, other.length);
      for (let i = 0; i < n; i++) if (this[i] !== other[i]) return this[i] < other[i] ? -1 : 1;
      return this.length === other.length ? 0 : (this.length < other.length ? -1 : 1);
    }
    slice(start, end) { return this.subarray(start, end); }
    fill(value, offset, end, encoding) {
      if (typeof value === "string") {
        const bytes = textBytes(value, encoding);
        offset = offset || 0;
        end = end === undefined ? this.length : end;
        for (let i = offset, j = 0; i < end && bytes.length; i++, j = (j + 1) % bytes.length) {
          this[i] = bytes[j];
        }
        return this;
      }
      return super.fill(value, offset, end);
    }
    write(text, offset, length, encoding) {
      if (typeof offset === "string") { encoding = offset; offset = 0; length = undefined; }
      else if (typeof length === "string") { encoding = length; length = undefined; }
      offset = offset || 0;
      const bytes = textBytes(text, encoding);
      const n = Math.min(bytes.length, this.length - offset,
                         length === undefined ? Infinity : length);
      for (let i = 0; i < n; i++) this[offset + i] = bytes[i];
      return n;
    }
    includes(value, offset, encoding) { return this.indexOf(value, offset, encoding) !== -1; }
    indexOf(value, offset, encoding) {
      if (typeof value === "number") return super.indexOf(value & 0xff, offset);
      const needle = typeof value === "string" ? textBytes(value, encoding) : value;
      outer: for (let i = offset || 0; i <= this.length - needle.length; i++) {
        for (let j = 0; j < needle.length; j++) if (this[i + j] !== needle[j]) continue outer;
        return i;
      }
      return -1;
    }
    _view() { return new DataView(this.buffer, this.byteOffset, this.byteLength); }
  }

  // read*/write* for integers and floats, both byte orders, as Node.js names them.
  const FIELDS = [["UInt8", "Uint8", 1], ["Int8", "Int8", 1], ["UInt16", "Uint16", 2],
                  ["Int16", "Int16", 2], ["UInt32", "Uint32", 4], ["Int32", "Int32", 4],
                  ["Float", "Float32", 4], ["Double", "Float64", 8]];
  for (const [name, view, size] of FIELDS) {
    const orders = size === 1 ? [["", false]] : [["LE", true], ["BE", false]];
    for (const [suffix, little] of orders) {
      const check = function (buf, offset) {
        if (offset < 0 || offset + size > buf.length) {
          throw new RangeError("The value of \"offset\" is out of range. It must be >= 0 and <= "
                               + (buf.length - size) + ". Received " + offset);
        }
      };
      Buffer.prototype["read" + name + suffix] = function (offset) {
        offset = offset === undefined ? 0 : offset;
        check(this, offset);
        return this._view()["get" + view](offset, little);
      };
      Buffer.prototype["write" + name + suffix] = function (value, offset) {
        offset = offset === undefined ? 0 : offset;
        check(this, offset);
        this._view()["set" + view](offset, value, little);
        return offset + size;
      };
      if (name.startsWith("UInt")) {
        Buffer.prototype["readUint" + name.slice(4) + suffix] =
          Buffer.prototype["read" + name + suffix];
        Buffer.prototype["writeUint" + name.slice(4) + suffix] =
          Buffer.prototype["write" + name + suffix];
      }
    }
  }
  Object.defineProperty(Buffer.prototype, "_view", { enumerable: false });
  globalThis.Buffer = Buffer;
})();
