// Validate Strimzi (kafka.strimzi.io) resources against Strimzi's published CRDs, strictly.
//
//   node scripts/strimzi_validate.mjs <prefix> < docs.json
//
// <prefix> is the npm prefix scripts/infra_tools.py installs into (it holds
// @kubernetes-models/strimzi-kafka-operator and typescript); Python users call it through
// `infra_tools.py --strimzi FILE...` or infra_tools.strimzi_problems(). stdin is a JSON list of
// {"source": "<file>#<n>", "doc": {...}}; stdout is {"checked": <n>, "problems": [...]}, each problem
// {source, kind, name, path, message, check}; exit 0 when there is none, 1 otherwise.
//
// The checks, per document:
// - "schema": the package's AJV validator of the document's apiVersion and kind, compiled from the
//   CRD (types, enums, required fields, patterns, bounds). The CRDs leave objects open (no
//   additionalProperties: false), so this alone accepts any misspelled field;
// - "fields": every field of the document looked up in the package's TypeScript interface of the
//   kind (I<Kind>, generated from the same CRD); one that is not declared is a problem, as under
//   kubeconform -strict. All of them are reported (TypeScript's own excess-property check stops at
//   the first error of an object literal). Free-form maps (`config`, labels) take any key;
// - "types": the documents as typed literals (`const d0: v1beta2.IKafkaTopic = {...}`) in one
//   TypeScript program, strict; its diagnostics are reported for documents the checks above found
//   nothing wrong with (elsewhere they repeat them).
// A kafka.strimzi.io apiVersion or kind that the package does not know is a problem, never a skip.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const PACKAGE = "@kubernetes-models/strimzi-kafka-operator";
const GROUP = "kafka.strimzi.io";

const pointer = (segments) => segments.join(".") || "(document)";
const where = ({ source, doc }) => ({ source, kind: doc?.kind ?? null, name: doc?.metadata?.name ?? null });

/** apiVersion -> kind -> model class, from every version module the package ships. */
async function loadModels(prefix) {
  const group = await import(pathToFileURL(join(prefix, "node_modules", PACKAGE, GROUP, "index.js")).href);
  const models = new Map();
  for (const [version, module] of Object.entries(group)) {
    const kinds = new Map();
    for (const model of Object.values(module)) {
      if (typeof model === "function" && model.apiVersion === `${GROUP}/${version}`) kinds.set(model.kind, model);
    }
    models.set(`${GROUP}/${version}`, kinds);
  }
  return models;
}

/** The "schema" problems of one input, and whether the package has a model (an interface) of its kind. */
function schemaProblems(models, input) {
  const { doc } = input;
  const kinds = models.get(doc?.apiVersion);
  if (!kinds?.get(doc?.kind)) {
    const message = kinds
      ? `unknown kind ${doc?.kind} in ${doc.apiVersion} (it has ${[...kinds.keys()].join(", ")})`
      : `unknown apiVersion ${doc?.apiVersion} (known: ${[...models.keys()].join(", ")})`;
    return [[{ ...where(input), path: kinds ? "kind" : "apiVersion", check: "schema", message }], false];
  }
  const Model = kinds.get(doc.kind);
  try {
    new Model(doc).validate();
    return [[], true];
  } catch (error) {
    const errors = error.errors ?? [{ instancePath: "", message: String(error.message ?? error), params: {} }];
    const problems = errors.map((e) => {
      const segments = e.instancePath.split("/").slice(1).map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
      let message = e.message;
      if (e.params?.allowedValues) message += ` (${e.params.allowedValues.join(", ")})`;
      if (e.params?.missingProperty) segments.push(e.params.missingProperty);
      return { ...where(input), path: pointer(segments), check: "schema", message };
    });
    return [problems, true];
  }
}

/** One TypeScript program typing the documents: [program, source file, index -> declaration]. */
function typedProgram(ts, prefix, inputs, indexes) {
  const versions = [...new Set(indexes.map((i) => inputs[i].doc.apiVersion.split("/")[1]))];
  const lines = versions.map((v) => `import type * as ${v} from "${PACKAGE}/${GROUP}/${v}";`);
  // a null field is an absent one (the API server prunes nulls of non-nullable fields, and the AJV
  // validators accept them), so it is left out of the literal
  const withoutNulls = (key, value) => (value === null && key !== "" ? undefined : value);
  for (const i of indexes) {
    const { apiVersion, kind } = inputs[i].doc;
    const literal = JSON.stringify(inputs[i].doc, withoutNulls, 1);
    lines.push(`export const d${i}: ${apiVersion.split("/")[1]}.I${kind} = ${literal};`);
  }
  // kept in memory, named as a file in the prefix so that the package resolves from there
  const fileName = join(prefix, "strimzi-documents.ts");
  const text = lines.join("\n") + "\n";
  const options = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    lib: ["lib.es2022.d.ts"],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
  };
  const host = ts.createCompilerHost(options);
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, ...rest) => (name === fileName ? source : getSourceFile.call(host, name, ...rest));
  host.fileExists = (name) => name === fileName || fileExists.call(host, name);
  host.readFile = (name) => (name === fileName ? text : readFile.call(host, name));
  const declarations = new Map();
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const declaration of statement.declarationList.declarations) {
      declarations.set(Number(declaration.name.text.slice(1)), declaration);
    }
  }
  return [ts.createProgram([fileName], options, host), source, declarations];
}

/**
 * The fields of a JSON value that no candidate TypeScript type declares, as {segments, known}.
 * Unions are lenient (a field is known when any member declares it); an index signature, `{}` (the
 * CRDs' free-form maps such as `config`), `any` and `unknown` accept any key.
 */
function* undeclaredFields(ts, checker, types, value, segments) {
  const candidates = [];
  const flatten = (t) => {
    if (t.isUnion()) t.types.forEach(flatten);
    else if (!(t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null))) candidates.push(t);
  };
  types.forEach(flatten);
  if (value === null || typeof value !== "object") return;
  if (candidates.some((t) => t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown))) return;
  if (Array.isArray(value)) {
    const items = candidates.filter((t) => checker.isArrayType(t)).map((t) => checker.getTypeArguments(t)[0]);
    for (const [i, item] of value.entries()) yield* undeclaredFields(ts, checker, items, item, [...segments, String(i)]);
    return;
  }
  const objects = candidates.filter((t) => t.flags & ts.TypeFlags.Object && !checker.isArrayType(t));
  if (!objects.length) return; // a scalar expected: a type error, which the other checks report
  const open = objects.some((t) => checker.getIndexInfosOfType(t).length || !checker.getPropertiesOfType(t).length);
  for (const [key, item] of Object.entries(value)) {
    const declared = objects.map((t) => t.getProperty(key)).filter(Boolean);
    if (declared.length) {
      const types = declared.map((p) => checker.getTypeOfSymbol(p));
      yield* undeclaredFields(ts, checker, types, item, [...segments, key]);
    } else if (!open) {
      const known = [...new Set(objects.flatMap((t) => checker.getPropertiesOfType(t).map((p) => p.name)))];
      yield { segments: [...segments, key], known };
    }
  }
}

/** The innermost node spanning a position, and the JSON path of the property it belongs to. */
function pathAt(ts, source, position) {
  let node;
  const visit = (n) => {
    if (n.getStart(source) <= position && position < n.getEnd()) {
      node = n;
      ts.forEachChild(n, visit);
    }
  };
  ts.forEachChild(source, visit);
  const segments = [];
  for (; node; node = node.parent) {
    if (ts.isPropertyAssignment(node)) segments.unshift(node.name.text);
    else if (node.parent && ts.isArrayLiteralExpression(node.parent)) {
      segments.unshift(String(node.parent.elements.indexOf(node)));
    }
    if (ts.isVariableDeclaration(node)) return { index: Number(node.name.text.slice(1)), segments };
  }
  return { index: undefined, segments };
}

function typeProblems(prefix, inputs, indexes, flagged) {
  const ts = createRequire(join(prefix, "package.json"))("typescript");
  const [program, source, declarations] = typedProgram(ts, prefix, inputs, indexes);
  const checker = program.getTypeChecker();
  const problems = [];
  for (const [index, declaration] of declarations) {
    const type = checker.getTypeFromTypeNode(declaration.type);
    for (const { segments, known } of undeclaredFields(ts, checker, [type], inputs[index].doc, [])) {
      const listed = known.length > 15 ? [...known.slice(0, 15), "..."] : known;
      const hint = listed.length ? `; declared here: ${listed.join(", ")}` : "";
      const message = `unknown field "${segments.at(-1)}"${hint}`;
      problems.push({ ...where(inputs[index]), path: pointer(segments), check: "fields", message });
    }
  }
  for (const problem of problems) flagged.add(problem.source);
  const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
  for (const d of diagnostics) {
    const { index, segments } = d.start === undefined ? { segments: [] } : pathAt(ts, source, d.start);
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n").split("\n")[0];
    if (index === undefined) {
      problems.push({ source: "(generated program)", kind: null, name: null, path: "", check: "types", message });
    } else if (!flagged.has(inputs[index].source)) {
      problems.push({ ...where(inputs[index]), path: pointer(segments), check: "types", message });
    }
  }
  return problems;
}

async function main(argv) {
  const [prefix] = argv;
  if (!prefix) {
    process.stderr.write("usage: node strimzi_validate.mjs <npm prefix> < docs.json\n");
    return 2;
  }
  const inputs = JSON.parse(readFileSync(0, "utf8"));
  const models = await loadModels(prefix);
  const problems = [];
  const typed = [];
  inputs.forEach((input, index) => {
    const [found, known] = schemaProblems(models, input);
    problems.push(...found);
    if (known) typed.push(index);
  });
  if (typed.length) problems.push(...typeProblems(prefix, inputs, typed, new Set(problems.map((p) => p.source))));
  process.stdout.write(JSON.stringify({ checked: inputs.length, problems }) + "\n");
  return problems.length ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
