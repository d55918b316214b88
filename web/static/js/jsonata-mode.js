/**
 * JSONata's syntax for the code editor. CodeMirror has no JSONata language: this is a
 * stream tokenizer (CodeMirror 5's shape, no imports) that codeeditor.js turns into one
 * with StreamLanguage.define. Tokens: block comments, strings, numbers, `$function(`
 * calls, `$variables`, `$$` and `$` (the input), path names (backquoted too), regular
 * expressions, operators, brackets, and the words and / or / in / function / true /
 * false / null.
 */

const WORDS = { and: "keyword", or: "keyword", in: "keyword", function: "keyword", true: "bool", false: "bool", null: "null" };
const OPERATOR = /^(:=|~>|\.\.|!=|<=|>=|\?:|\?\?|[-+*/%&=<>!?:.|^@#~])/;
// A "/" after one of these starts a regular expression; after a value it divides.
const BEFORE_REGEX = new Set(["operator", "bracket-open", "punctuation", "keyword", null]);

function readString(stream, quote) {
  let escaped = false;
  let ch;
  while ((ch = stream.next()) !== undefined) {
    if (ch === quote && !escaped) return true;
    escaped = !escaped && ch === "\\";
  }
  return false;
}

function readComment(stream, state) {
  state.inComment = !stream.skipTo("*/");
  if (state.inComment) stream.skipToEnd();
  else stream.match("*/");
  return "comment";
}

function token(stream, state) {
  if (state.inComment) return readComment(stream, state);
  if (stream.eatSpace()) return null;
  const previous = state.last;
  const style = (name, kind = name) => {
    state.last = kind;
    return name;
  };
  if (stream.match("/*")) return readComment(stream, state);
  const ch = stream.peek();
  if (ch === '"' || ch === "'") {
    stream.next();
    readString(stream, ch);
    return style("string");
  }
  if (ch === "`") {
    stream.next();
    readString(stream, "`");
    return style("propertyName");
  }
  if (stream.match(/^\d+(\.\d+)?([eE][-+]?\d+)?/)) return style("number");
  if (stream.match("$$")) return style("variableName.special", "value");
  if (stream.match(/^\$[\p{L}_][\p{L}\p{N}_]*/u)) {
    // A call: the built-in and user functions stand out from plain variables.
    return stream.match(/^\s*\(/, false) ? style("variableName.special", "value") : style("variableName", "value");
  }
  if (stream.eat("$")) return style("variableName.special", "value");
  if (ch === "/" && BEFORE_REGEX.has(previous) && stream.match(/^\/(?:[^/\\\n]|\\.)+\/[imsg]*/)) return style("regexp");
  if (stream.match(/^[\p{L}_][\p{L}\p{N}_]*/u)) {
    const word = stream.current();
    if (WORDS[word]) return style(WORDS[word], WORDS[word] === "keyword" ? "keyword" : "value");
    return style("propertyName", "value");
  }
  if (stream.eat("λ")) return style("keyword");
  if (stream.match(/^[([{]/)) return style("bracket", "bracket-open");
  if (stream.match(/^[)\]}]/)) return style("bracket", "value");
  if (stream.match(/^[,;]/)) return style("punctuation");
  if (stream.match(OPERATOR)) return style("operator");
  stream.next();
  return style("invalid");
}

/** The stream parser for StreamLanguage.define. */
export const jsonataParser = {
  name: "jsonata",
  startState: () => ({ inComment: false, last: null }),
  copyState: (state) => ({ ...state }),
  token,
  languageData: {
    commentTokens: { block: { open: "/*", close: "*/" } },
    closeBrackets: { brackets: ["(", "[", "{", "'", '"', "`"] },
    indentOnInput: /^\s*[)\]}]$/,
  },
};
