// End-to-end harness: the system as the run command starts it (python -m agent_gateway on a temp
// DATA_DIR and a free port, or BASE_URL when given), Debian's Chromium driven by playwright-core
// (never a browser download of its own), console errors collected, screenshots in ui/artifacts/.

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const UI_DIR = resolve(here, "..");
export const REPO = resolve(UI_DIR, "..");
export const ARTIFACTS = join(UI_DIR, "artifacts", "e2e");
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const ZONE = "Europe/Berlin";
/** ChatKit's script URL as the UI was built with it (see src/components/ChatKitPanel.tsx). */
export const CHATKIT_SCRIPT = process.env.NEXT_PUBLIC_CHATKIT_SCRIPT ?? "https://cdn.platform.openai.com/deployments/chatkit/chatkit.js";

function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts the system (unless BASE_URL is set); resolves when /readyz answers 200. */
export async function startSystem() {
  if (process.env.BASE_URL) return { url: process.env.BASE_URL.replace(/\/$/, ""), stop: async () => {} };
  if (!existsSync(join(UI_DIR, "out", "index.html"))) throw new Error("ui/out is missing: run `make ui` first");
  const python = process.env.PYTHON ?? join(REPO, ".venv", "bin", "python");
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "todo-ui-e2e-"));
  const log = [];
  const child = spawn(python, ["-m", "agent_gateway"], {
    cwd: REPO,
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "WARNING", OPENAI_API_KEY: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [child.stdout, child.stderr]) stream.on("data", (d) => log.push(String(d)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  while (true) {
    if (child.exitCode !== null) throw new Error(`the system exited (${child.exitCode}):\n${log.join("").slice(-4000)}`);
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      child.kill("SIGTERM");
      throw new Error(`the system did not get ready:\n${log.join("").slice(-4000)}`);
    }
    await sleep(250);
  }
  return {
    url,
    log,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        const gone = new Promise((r) => child.once("exit", r));
        await Promise.race([gone, sleep(20_000)]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (ui/scripts/ensure-chromium.sh)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
}

// Runs in every page before the app: records every notification shown (window.Notification and the
// service worker registration's showNotification) and every permission request.
function notificationProbe() {
  const report = (n) => {
    try {
      window.__reportNotification?.(n);
    } catch {
      /* the binding is gone while the page closes */
    }
  };
  if ("Notification" in window) {
    const Orig = window.Notification;
    class Probe extends Orig {
      constructor(title, options) {
        super(title, options);
        report({ via: "window", title, tag: options?.tag ?? "", body: options?.body ?? "", data: options?.data ?? null });
      }
    }
    Object.defineProperty(Probe, "permission", { get: () => Orig.permission });
    Probe.requestPermission = (...args) => {
      window.__permissionRequests = (window.__permissionRequests ?? 0) + 1;
      return Orig.requestPermission(...args);
    };
    window.Notification = Probe;
  }
  // Playwright's contexts are incognito, where Chrome has no push service (and logs an error when asked):
  // the probe stands in for it, records the VAPID key the app subscribes with, and says no, as a browser
  // without a push service does. Reminders then reach the open tab through the realtime stream.
  if ("PushManager" in window) {
    PushManager.prototype.getSubscription = function () {
      return Promise.resolve(null);
    };
    PushManager.prototype.subscribe = function (options) {
      const key = options?.applicationServerKey;
      const bytes = key ? Array.from(new Uint8Array(key.buffer ?? key)) : [];
      window.__pushSubscribeKeys = [...(window.__pushSubscribeKeys ?? []), btoa(String.fromCharCode(...bytes))];
      return Promise.reject(new DOMException("no push service in the test browser", "AbortError"));
    };
  }
  if ("ServiceWorkerRegistration" in window) {
    const orig = ServiceWorkerRegistration.prototype.showNotification;
    ServiceWorkerRegistration.prototype.showNotification = function (title, options) {
      report({ via: "service-worker", title, tag: options?.tag ?? "", body: options?.body ?? "", data: options?.data ?? null });
      return orig.call(this, title, options);
    };
  }
}

/**
 * A browser context in the user's zone, with ChatKit's CDN script answered by an empty script (as on
 * a network that blocks it — without the console error a failed load would log), console errors and
 * notifications collected.
 */
export async function newContext(browser, base, { viewport = { width: 1280, height: 860 }, grant = true } = {}) {
  const context = await browser.newContext({ viewport, timezoneId: ZONE, locale: "en-GB", baseURL: base });
  if (grant) await context.grantPermissions(["notifications"], { origin: base });
  const notifications = [];
  const errors = [];
  await context.exposeBinding("__reportNotification", ({ page }, n) => notifications.push({ ...n, page: page?.url() ?? "" }));
  await context.addInitScript(notificationProbe);
  await context.route(CHATKIT_SCRIPT, (route) => route.fulfill({ status: 200, contentType: "text/javascript", body: "/* ChatKit unavailable in tests */" }));
  const watch = (page) => {
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`${page.url()} console: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`${page.url()} pageerror: ${e.message}`));
  };
  context.on("page", watch);
  return { context, notifications, errors };
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });
}

export async function waitFor(fn, { timeout = 30_000, interval = 200, message = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await sleep(interval);
  }
  throw new Error(`timed out waiting for ${message}`);
}

/** RFC 3339 wall parts of an instant in a zone: {date: YYYY-MM-DD, time: HH:MM:SS}. */
export function wallIn(zone, instant) {
  const f = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  const p = Object.fromEntries(f.formatToParts(instant).map((x) => [x.type, x.value]));
  return { date: `${p.year}-${p.month}-${p.day}`, time: `${p.hour}:${p.minute}:${p.second}` };
}

/** The instant (ISO, UTC) of a wall time (YYYY-MM-DD, HH:MM) in a zone. */
export function zonedInstant(date, time, zone) {
  const [y, mo, d] = date.split("-").map(Number);
  const [h, mi] = time.split(":").map(Number);
  const target = Date.UTC(y, mo - 1, d, h, mi);
  let guess = target;
  for (let i = 0; i < 3; i++) {
    const w = wallIn(zone, new Date(guess));
    const [wy, wmo, wd] = w.date.split("-").map(Number);
    const [wh, wmi] = w.time.split(":").map(Number);
    guess += target - Date.UTC(wy, wmo - 1, wd, wh, wmi);
  }
  return new Date(guess).toISOString();
}

/** YYYY-MM-DD of day `day` of the month `months` after the current one, in a zone (from the real clock). */
export function dayOfMonthAhead(zone, months, day) {
  const today = wallIn(zone, new Date()).date;
  const [y, m] = today.split("-").map(Number);
  const idx = y * 12 + (m - 1) + months;
  return `${Math.floor(idx / 12)}-${String((idx % 12) + 1).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

export { sleep };

/** Calls the API from node with a bearer token (setting up data, or checking what the UI saved). */
export async function api(base, token, method, path, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

let accounts = 0;
/** A new account of its own (registered through the API, in the browser's zone): {email, password, token}. */
export async function newAccount(base, label = "user") {
  const email = `${label}-${process.pid}-${Date.now()}-${++accounts}@example.com`;
  const password = "a long password";
  const r = await api(base, null, "POST", "/api/v1/auth/register", { email, password, timezone: ZONE });
  if (r.status !== 201) throw new Error(`register ${email}: ${r.status} ${JSON.stringify(r.body)}`);
  return { email, password, token: r.body.access_token };
}

/** Makes every page of the context start signed in as the account (the token where the UI keeps it). */
export async function signIn(context, token) {
  await context.addInitScript(
    ({ token }) => {
      try {
        if (!localStorage.getItem("todo.token")) localStorage.setItem("todo.token", token);
      } catch {
        /* about:blank has no storage */
      }
    },
    { token },
  );
}

export const slug = (s) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 60);
