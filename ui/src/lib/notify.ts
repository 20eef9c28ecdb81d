// Browser notifications: the service worker, the Web Push subscription (VAPID key from the API) and
// notifications shown by an open tab from the realtime stream. Permission is asked only from a user
// action (the first reminder, or the Enable button) — never on page load.

import { api } from "./api";

export type PermissionState = NotificationPermission | "unsupported";

export function notificationsSupported(): boolean {
  return typeof window !== "undefined" && "Notification" in window;
}

export function permissionState(): PermissionState {
  return notificationsSupported() ? Notification.permission : "unsupported";
}

function swSupported(): boolean {
  return typeof navigator !== "undefined" && "serviceWorker" in navigator;
}

let registration: Promise<ServiceWorkerRegistration | null> | null = null;

/** Registers /sw.js once (no permission needed for that). */
export function registerServiceWorker(): Promise<ServiceWorkerRegistration | null> {
  if (!swSupported()) return Promise.resolve(null);
  registration ??= navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(
    () => navigator.serviceWorker.ready,
    () => null,
  );
  return registration;
}

/** Asks for permission (call only from a click or key press); then subscribes to Web Push. */
export async function requestPermission(): Promise<PermissionState> {
  if (!notificationsSupported()) return "unsupported";
  let state: NotificationPermission = Notification.permission;
  if (state === "default") state = await Notification.requestPermission();
  if (state === "granted") await subscribePush();
  return state;
}

export type PushState = "subscribed" | "unsupported" | "unavailable" | "off";
let lastPush: { state: PushState; detail: string } = { state: "off", detail: "" };
export function pushState(): { state: PushState; detail: string } {
  return lastPush;
}

function urlBase64ToUint8Array(base64: string): Uint8Array<ArrayBuffer> {
  const padded = (base64 + "=".repeat((4 - (base64.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(padded);
  const out = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/**
 * Subscribes this browser to Web Push and tells the API, when permission is granted. Failure is a
 * state, not an error: a browser without a push service still gets notifications from the open tab.
 */
export async function subscribePush(): Promise<{ state: PushState; detail: string }> {
  if (permissionState() !== "granted") return (lastPush = { state: "off", detail: "permission not granted" });
  const reg = await registerServiceWorker();
  if (!reg || !("pushManager" in reg)) return (lastPush = { state: "unsupported", detail: "no Push API here" });
  try {
    let sub = await reg.pushManager.getSubscription();
    if (!sub) {
      const { public_key } = await api<{ public_key: string }>("/api/v1/push/vapid-public-key");
      sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: urlBase64ToUint8Array(public_key) });
    }
    await api("/api/v1/push/subscriptions", { method: "POST", body: sub.toJSON() });
    lastPush = { state: "subscribed", detail: "" };
  } catch (e) {
    lastPush = { state: "unavailable", detail: e instanceof Error ? e.message : String(e) };
  }
  return lastPush;
}

/** Forget this browser's subscription (sign out). */
export async function unsubscribePush(): Promise<void> {
  const reg = swSupported() ? await navigator.serviceWorker.getRegistration() : undefined;
  const sub = reg ? await reg.pushManager?.getSubscription() : null;
  if (!sub) return;
  try {
    await api(`/api/v1/push/subscriptions?endpoint=${encodeURIComponent(sub.endpoint)}`, { method: "DELETE" });
  } catch {
    /* signed out already */
  }
  await sub.unsubscribe().catch(() => false);
}

export interface LocalNotification {
  title: string;
  body?: string;
  /** same tag = the same notification: a push and the tab showing one reminder show it once */
  tag: string;
  taskId?: string | null;
  url?: string;
}

const shown = new Map<string, number>();
const DEDUPE_MS = 10 * 60 * 1000;

/** This tab (or another of this browser's tabs) showed that tag recently. */
function claim(tag: string): boolean {
  const now = Date.now();
  for (const [t, at] of shown) if (now - at > DEDUPE_MS) shown.delete(t);
  if (shown.has(tag)) return false;
  shown.set(tag, now);
  try {
    const key = `todo.notified.${tag}`;
    const prev = Number(window.localStorage.getItem(key) ?? "0");
    if (now - prev < DEDUPE_MS) return false;
    window.localStorage.setItem(key, String(now));
  } catch {
    /* storage off: the tag still dedupes on screen */
  }
  return true;
}

/** Shows a notification from the open tab (through the service worker, so clicks open the task). */
export async function showNotification(n: LocalNotification, onOpen?: (taskId: string) => void): Promise<boolean> {
  if (permissionState() !== "granted") return false;
  if (!claim(n.tag)) return false;
  const url = n.url ?? (n.taskId ? `/?task=${n.taskId}` : "/");
  const options: NotificationOptions = {
    body: n.body ?? "",
    tag: n.tag,
    icon: "/icon.svg",
    data: { url, task_id: n.taskId ?? null },
  };
  try {
    const reg = swSupported() ? await navigator.serviceWorker.getRegistration() : undefined;
    if (reg) {
      await reg.showNotification(n.title, options);
      return true;
    }
    const note = new Notification(n.title, options);
    note.onclick = () => {
      window.focus();
      if (n.taskId && onOpen) onOpen(n.taskId);
      note.close();
    };
    return true;
  } catch {
    shown.delete(n.tag); // let another tab, or the push, show it
    return false;
  }
}
