"use client";

import { useEffect, useId, useMemo, useState } from "react";
import { ApiError } from "@/lib/api";
import { type PermissionState, permissionState, pushState, requestPermission, showNotification, subscribePush } from "@/lib/notify";
import { allZones, browserZone } from "@/lib/time";
import type { User } from "@/lib/types";

export type ChatEngine = "auto" | "builtin";

export interface SettingsPanelProps {
  user: User;
  onSaveZone: (tz: string) => Promise<void>;
  chatEngine: ChatEngine;
  onChatEngine: (e: ChatEngine) => void;
  onSignOut: () => void;
  onClose: () => void;
}

const PERMISSION_TEXT: Record<PermissionState, string> = {
  granted: "Allowed — reminders show as browser notifications.",
  denied: "Blocked in this browser. Allow notifications for this site in the browser's settings to get reminders.",
  default: "Not asked yet. Enable them to get reminders as notifications.",
  unsupported: "This browser cannot show notifications.",
};

export function SettingsPanel({ user, onSaveZone, chatEngine, onChatEngine, onSignOut, onClose }: SettingsPanelProps) {
  const id = useId();
  const zones = useMemo(() => allZones(), []);
  const [zone, setZone] = useState(user.timezone);
  const [zoneMsg, setZoneMsg] = useState<string | null>(null);
  const [perm, setPerm] = useState<PermissionState>("default");
  const [push, setPush] = useState(pushState());
  const [testMsg, setTestMsg] = useState<string | null>(null);

  useEffect(() => {
    setPerm(permissionState());
    if (permissionState() === "granted") void subscribePush().then(setPush);
  }, []);

  const saveZone = async () => {
    setZoneMsg(null);
    try {
      await onSaveZone(zone);
      setZoneMsg("Saved.");
    } catch (e) {
      setZoneMsg(e instanceof ApiError ? e.message : String(e));
    }
  };

  const enable = async () => {
    const state = await requestPermission();
    setPerm(state);
    setPush(pushState());
  };

  const test = async () => {
    setTestMsg(null);
    if (permissionState() !== "granted") {
      setTestMsg("Enable notifications first.");
      return;
    }
    const ok = await showNotification({ title: "Todo Cloud test notification", body: "Notifications work in this browser.", tag: `test-${Date.now()}` });
    setTestMsg(ok ? "Sent — you should see it now." : "Could not show a notification.");
  };

  return (
    <div className="settings">
      <header className="editor-head">
        <h2>Settings</h2>
        <p className="hint">Signed in as {user.email}</p>
      </header>

      <section aria-labelledby={`${id}-tz`}>
        <h3 id={`${id}-tz`}>Time zone</h3>
        <p className="hint">Dates and times are shown, and quick add reads them, in this zone.</p>
        <div className="row">
          <label htmlFor={`${id}-zone`}>Your time zone</label>
          <select id={`${id}-zone`} value={zone} onChange={(e) => setZone(e.target.value)}>
            {(zones.includes(zone) ? zones : [zone, ...zones]).map((z) => (
              <option key={z} value={z}>
                {z}
              </option>
            ))}
          </select>
          <button type="button" className="primary" onClick={() => void saveZone()} disabled={zone === user.timezone}>
            Save time zone
          </button>
        </div>
        {zone !== browserZone() && (
          <button type="button" className="link" onClick={() => setZone(browserZone())}>
            Use this device&apos;s zone ({browserZone()})
          </button>
        )}
        {zoneMsg && (
          <p className="hint" role="status">
            {zoneMsg}
          </p>
        )}
      </section>

      <section aria-labelledby={`${id}-notif`}>
        <h3 id={`${id}-notif`}>Browser notifications</h3>
        <p data-testid="permission-state">
          <strong>Permission:</strong> {perm} — {PERMISSION_TEXT[perm]}
        </p>
        {perm === "granted" && (
          <p className="hint">
            Web Push:{" "}
            {push.state === "subscribed"
              ? "this browser is subscribed; reminders arrive even with no tab open."
              : push.state === "off"
                ? "not subscribed yet."
                : `not available here (${push.detail || push.state}); reminders show while a tab is open.`}
          </p>
        )}
        <div className="row">
          {perm !== "granted" && perm !== "unsupported" && (
            <button type="button" className="primary" onClick={() => void enable()} disabled={perm === "denied"}>
              Enable notifications
            </button>
          )}
          <button type="button" className="secondary" onClick={() => void test()} disabled={perm === "unsupported"}>
            Send a test notification
          </button>
        </div>
        {testMsg && (
          <p className="hint" role="status">
            {testMsg}
          </p>
        )}
      </section>

      <section aria-labelledby={`${id}-chat`}>
        <h3 id={`${id}-chat`}>Chat</h3>
        <div className="row">
          <label htmlFor={`${id}-engine`}>Chat panel</label>
          <select id={`${id}-engine`} value={chatEngine} onChange={(e) => onChatEngine(e.target.value as ChatEngine)}>
            <option value="auto">ChatKit when it loads, else built-in</option>
            <option value="builtin">Always the built-in panel</option>
          </select>
        </div>
      </section>

      <footer className="editor-actions">
        <button type="button" className="danger" onClick={onSignOut}>
          Sign out
        </button>
        <span className="spacer" />
        <button type="button" className="primary" onClick={onClose}>
          Done
        </button>
      </footer>
    </div>
  );
}
