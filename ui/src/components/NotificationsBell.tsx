"use client";

import { useEffect, useId, useRef, useState } from "react";
import { formatInstant } from "@/lib/time";
import type { Notification } from "@/lib/types";

export interface NotificationsBellProps {
  items: Notification[];
  unread: number;
  userZone: string;
  onOpenNotification: (n: Notification) => void;
  onMarkAllRead: () => void;
  onOpenChange?: (open: boolean) => void;
}

/** The bell with the unread count, and the inbox as a popover. */
export function NotificationsBell({ items, unread, userZone, onOpenNotification, onMarkAllRead, onOpenChange }: NotificationsBellProps) {
  const id = useId();
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);

  const setOpenAndTell = (o: boolean) => {
    setOpen(o);
    onOpenChange?.(o);
  };

  useEffect(() => {
    if (!open) return;
    const onDoc = (e: MouseEvent) => {
      if (root.current && !root.current.contains(e.target as Node)) setOpenAndTell(false);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        setOpenAndTell(false);
        button.current?.focus();
      }
    };
    document.addEventListener("mousedown", onDoc);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("mousedown", onDoc);
      document.removeEventListener("keydown", onKey);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [open]);

  return (
    <div className="bell" ref={root}>
      <button
        ref={button}
        type="button"
        className="icon-button bell-button"
        aria-expanded={open}
        aria-controls={`${id}-inbox`}
        aria-label={unread ? `Notifications, ${unread} unread` : "Notifications"}
        onClick={() => setOpenAndTell(!open)}
      >
        <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
          <path d="M12 22a2.5 2.5 0 0 0 2.5-2.5h-5A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5-6.7V3.5a2 2 0 0 0-4 0v.8A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2z" fill="currentColor" />
        </svg>
        {unread > 0 && (
          <span className="badge-count" aria-hidden="true">
            {unread > 99 ? "99+" : unread}
          </span>
        )}
      </button>
      <div id={`${id}-inbox`} className="inbox" hidden={!open} role="region" aria-label="Inbox">
        <div className="inbox-head">
          <h2>Inbox</h2>
          <button type="button" className="link" onClick={onMarkAllRead} disabled={unread === 0}>
            Mark all read
          </button>
        </div>
        {items.length === 0 ? (
          <p className="hint">Nothing yet. Reminders you set arrive here.</p>
        ) : (
          <ul>
            {items.map((n) => (
              <li key={n.id} className={n.read_at ? "read" : "unread"}>
                <button
                  type="button"
                  className="inbox-item"
                  onClick={() => {
                    setOpenAndTell(false);
                    onOpenNotification(n);
                  }}
                >
                  <span className="inbox-title">
                    {!n.read_at && <span className="dot" aria-label="unread" />}
                    {n.title}
                  </span>
                  <span className="inbox-body">
                    {n.late ? "Late · " : ""}
                    {n.body}
                  </span>
                  <span className="inbox-time">{formatInstant(n.created_at, userZone)}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}
