// The realtime stream: trade the bearer token for a ticket, open EventSource, reconnect with a fresh
// ticket when it drops. Events: task.created/updated/completed/deleted, notification.created, resync.

import { API_BASE, api } from "./api";

export type RealtimeStatus = "connecting" | "live" | "offline";
export type RealtimeHandler = (type: string, data: unknown) => void;

const EVENTS = [
  "task.created",
  "task.updated",
  "task.completed",
  "task.reopened",
  "task.deleted",
  "notification.created",
  "resync",
] as const;

export class RealtimeClient {
  private source: EventSource | null = null;
  private stopped = true;
  private retry = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly onEvent: RealtimeHandler,
    private readonly onStatus: (s: RealtimeStatus) => void = () => {},
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.source?.close();
    this.source = null;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.onStatus("connecting");
    let ticket: string;
    try {
      ticket = (await api<{ ticket: string }>("/api/v1/events/ticket", { method: "POST" })).ticket;
    } catch {
      this.schedule();
      return;
    }
    if (this.stopped) return;
    const source = new EventSource(`${API_BASE}/api/v1/events/stream?ticket=${encodeURIComponent(ticket)}`);
    this.source = source;
    let wasLive = false;
    source.addEventListener("ready", () => {
      this.retry = 0;
      this.onStatus("live");
      // after a reconnect anything may have been missed while away: refetch what is shown
      if (wasLive || this.hadConnection) this.onEvent("resync", { reason: "reconnected" });
      wasLive = true;
      this.hadConnection = true;
    });
    for (const type of EVENTS) {
      source.addEventListener(type, (e) => {
        let data: unknown = null;
        try {
          data = JSON.parse((e as MessageEvent<string>).data);
        } catch {
          /* keep null */
        }
        this.onEvent(type, data);
      });
    }
    source.addEventListener("reconnect", () => this.reopen());
    source.onerror = () => this.reopen();
  }

  private hadConnection = false;

  /** The ticket is short-lived, so EventSource's own retry would be refused: reconnect with a new one. */
  private reopen(): void {
    this.source?.close();
    this.source = null;
    if (this.stopped) return;
    this.onStatus("offline");
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const delay = Math.min(15000, 500 * 2 ** this.retry) + Math.random() * 250;
    this.retry = Math.min(this.retry + 1, 5);
    this.timer = setTimeout(() => void this.connect(), delay);
  }
}
