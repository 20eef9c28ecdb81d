// The UI's own container: serves the static export (out/) with the client-side fallback, no
// dependencies. PORT (3000) and HOSTNAME (0.0.0.0) as the chart sets them. The API is not proxied:
// the Ingress routes /api, /chatkit and /mcp to the gateway and the task API on the same host.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer } from "node:http";
import { extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(process.env.UI_ROOT ?? join(fileURLToPath(new URL(".", import.meta.url)), "out"));
const PORT = Number(process.env.PORT ?? 3000);
const HOST = process.env.HOSTNAME ?? "0.0.0.0";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".webmanifest": "application/manifest+json",
};

const SECURITY = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "strict-origin-when-cross-origin",
  "X-Frame-Options": "DENY",
};

async function file(path) {
  try {
    const s = await stat(path);
    return s.isFile() ? { path, size: s.size } : null;
  } catch {
    return null;
  }
}

async function resolveRequest(pathname) {
  const rel = normalize(decodeURIComponent(pathname)).replace(/^(\.\.[/\\])+/, "");
  const base = join(ROOT, rel);
  if (!base.startsWith(ROOT)) return null;
  const direct = await file(base);
  if (direct) return { ...direct, status: 200 };
  const html = (await file(`${base}.html`)) ?? (await file(join(base, "index.html")));
  if (html) return { ...html, status: 200 };
  if (extname(rel)) return null; // a missing asset is a 404, not the app
  const index = await file(join(ROOT, "index.html")); // a page path: the client-side app
  return index ? { ...index, status: 200 } : null;
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? "/", "http://localhost");
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { Allow: "GET, HEAD", ...SECURITY }).end();
    return;
  }
  let found = null;
  try {
    found = await resolveRequest(url.pathname);
  } catch {
    found = null;
  }
  if (!found) {
    const notFound = await file(join(ROOT, "404.html"));
    res.writeHead(404, { "Content-Type": TYPES[".html"], ...SECURITY });
    if (notFound && req.method === "GET") createReadStream(notFound.path).pipe(res);
    else res.end();
    return;
  }
  const immutable = url.pathname.startsWith("/_next/static/");
  res.writeHead(found.status, {
    "Content-Type": TYPES[extname(found.path)] ?? "application/octet-stream",
    "Content-Length": found.size,
    "Cache-Control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
    ...SECURITY,
  });
  if (req.method === "HEAD") res.end();
  else createReadStream(found.path).pipe(res);
});

server.listen(PORT, HOST, () => {
  process.stdout.write(`todo-cloud ui: serving ${ROOT} on http://${HOST}:${PORT}/\n`);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
