/**
 * Validation of a node's config against its type's JSON Schema (the subset the
 * runtime's schemas use: type, anyOf/oneOf, enum, const, pattern, minLength,
 * minimum/maximum, required, properties, items), plus references to config nodes.
 * Errors are {path: "/rules/0/property", message}; describeProblem puts one in words.
 */
import { labelFor } from "./form.js";

const TYPE_CHECKS = {
  string: (v) => typeof v === "string",
  number: (v) => typeof v === "number" && Number.isFinite(v),
  integer: (v) => Number.isInteger(v),
  boolean: (v) => typeof v === "boolean",
  object: (v) => v !== null && typeof v === "object" && !Array.isArray(v),
  array: (v) => Array.isArray(v),
  null: (v) => v === null,
};

function describeValue(schema) {
  if (schema.enum) return `one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}`;
  if (schema["x-kind"] === "number") return "a number";
  if (schema["x-kind"] === "integer") return "a whole number";
  if (schema["x-kind"] === "boolean") return "true or false";
  return null;
}

function check(schema, value, path, errors) {
  if (!schema || typeof schema !== "object") return;
  const before = errors.length;
  const alternatives = schema.anyOf || schema.oneOf;
  if (alternatives) {
    const ok = alternatives.some((alt) => {
      const sub = [];
      check(alt, value, path, sub);
      return sub.length === 0;
    });
    if (!ok) errors.push({ path, message: `must be ${describeValue(schema) || "a valid value"}` });
  }
  if (schema.type) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => TYPE_CHECKS[t]?.(value))) {
      errors.push({ path, message: `must be ${describeValue(schema) || `of type ${types.join(" or ")}`}` });
      return;
    }
  }
  if (schema.enum && !schema.enum.some((v) => JSON.stringify(v) === JSON.stringify(value))) {
    errors.push({ path, message: `must be ${describeValue(schema)}` });
  }
  if ("const" in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) {
    errors.push({ path, message: `must be ${JSON.stringify(schema.const)}` });
  }
  if (typeof value === "string") {
    if (schema.minLength !== undefined && value.length < schema.minLength) {
      errors.push({ path, message: schema.minLength === 1 ? "is required" : `needs at least ${schema.minLength} characters` });
    }
    if (schema.pattern && !new RegExp(schema.pattern, "u").test(value)) {
      errors.push({ path, message: `must be ${describeValue(schema) || `like ${schema.pattern}`}` });
    }
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push({ path, message: `must be at least ${schema.minimum}` });
    if (schema.maximum !== undefined && value > schema.maximum) errors.push({ path, message: `must be at most ${schema.maximum}` });
  }
  if (errors.length > before) return;
  if (TYPE_CHECKS.object(value)) {
    for (const key of schema.required || []) {
      if (!(key in value)) errors.push({ path: `${path}/${key}`, message: "is required" });
    }
    for (const [key, sub] of Object.entries(schema.properties || {})) {
      if (key in value) check(sub, value[key], `${path}/${key}`, errors);
    }
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, index) => check(schema.items, item, `${path}/${index}`, errors));
  }
}

/**
 * Validate node `node` of type descriptor `type`. `lookup(id)` returns a node by id
 * (to check config-node references). Unknown types are reported as such.
 */
export function validateNode(node, type, lookup) {
  if (!type) return [{ path: "", message: `unknown node type "${node.type}"` }];
  const errors = [];
  check(type.schema, node, "", errors);
  for (const [key, prop] of Object.entries(type.schema?.properties || {})) {
    const refType = prop && prop["x-node-type"];
    if (!refType) continue;
    const id = node[key];
    const required = (type.schema.required || []).includes(key) || prop["x-required"] === true;
    if (!id) {
      if (required) errors.push({ path: `/${key}`, message: `no ${refType} chosen` });
    } else if (lookup(id)?.type !== refType) {
      errors.push({ path: `/${key}`, message: `the ${refType} it names (${id}) does not exist` });
    }
  }
  return errors;
}

/**
 * A problem in words: "Broker: is required" for `{path: "/broker", message: "is required"}`
 * (the field's title from the type's schema), "Node: ..." for the node itself.
 */
export function describeProblem(problem, type) {
  const path = String(problem.path || "").replace(/^\$(\[\d+\])?\.?/, "").replace(/^\//, "");
  if (!path) return problem.message;
  const [key, ...rest] = path.split(/[/.]/);
  if (key === "type" && !rest.length) return problem.message;
  const schema = type?.schema?.properties?.[key];
  const where = [labelFor(key, schema), ...rest.map((part) => (/^\d+$/.test(part) ? `#${Number(part) + 1}` : part))].join(" ");
  return `${where}: ${problem.message}`;
}
