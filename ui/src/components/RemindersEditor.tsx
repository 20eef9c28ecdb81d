"use client";

import { useId } from "react";
import { type ReminderDraft, type ReminderUnit, reminderKey } from "@/lib/editor";
import { addDays } from "@/lib/time";
import { NumberField } from "./NumberField";

export interface RemindersEditorProps {
  value: ReminderDraft[];
  onChange: (r: ReminderDraft[]) => void;
  /** the task's due date and time (wall, in its zone), to start "at" reminders from */
  dueDate: string;
  dueTime: string;
  hasDue: boolean;
  timezone: string;
  /** called when the user adds a reminder (the first one asks for notification permission) */
  onAdd?: () => void;
  error?: string;
  max?: number;
}

export function RemindersEditor({ value, onChange, dueDate, dueTime, hasDue, timezone, onAdd, error, max = 10 }: RemindersEditorProps) {
  const id = useId();
  const update = (key: string, patch: Partial<ReminderDraft>) => onChange(value.map((r) => (r.key === key ? { ...r, ...patch, status: undefined } : r)));

  const add = () => {
    const base = hasDue && dueDate ? dueDate : "";
    const at = base ? `${addDays(base, 0)}T${(dueTime || "09:00").slice(0, 5)}` : "";
    onChange([
      ...value,
      hasDue ? { key: reminderKey(), kind: "before", amount: 30, unit: "minutes", at } : { key: reminderKey(), kind: "at", amount: 30, unit: "minutes", at },
    ]);
    onAdd?.();
  };

  return (
    <fieldset className="reminders">
      <legend>Reminders</legend>
      {value.length === 0 && <p className="hint">No reminders.</p>}
      <ul>
        {value.map((r, i) => (
          <li key={r.key} className="reminder-row">
            <select
              aria-label={`Reminder ${i + 1} type`}
              value={r.kind}
              onChange={(e) => update(r.key, { kind: e.target.value as ReminderDraft["kind"] })}
            >
              <option value="before" disabled={!hasDue}>
                Before due
              </option>
              <option value="at">At a time</option>
            </select>
            {r.kind === "before" ? (
              <>
                <NumberField
                  min={0}
                  max={100000}
                  className="narrow"
                  aria-label={`Reminder ${i + 1} amount`}
                  value={r.amount}
                  onChange={(amount) => update(r.key, { amount })}
                />
                <select aria-label={`Reminder ${i + 1} unit`} value={r.unit} onChange={(e) => update(r.key, { unit: e.target.value as ReminderUnit })}>
                  <option value="minutes">minutes before</option>
                  <option value="hours">hours before</option>
                  <option value="days">days before</option>
                </select>
              </>
            ) : (
              <input
                type="datetime-local"
                step={1}
                aria-label={`Reminder ${i + 1} time (${timezone})`}
                value={r.at}
                onChange={(e) => update(r.key, { at: e.target.value })}
              />
            )}
            {r.status && r.status !== "pending" && <span className={`badge status-${r.status}`}>{r.status}</span>}
            <button type="button" className="icon-button" aria-label={`Remove reminder ${i + 1}`} onClick={() => onChange(value.filter((x) => x.key !== r.key))}>
              ×
            </button>
          </li>
        ))}
      </ul>
      <button type="button" className="secondary" onClick={add} disabled={value.length >= max} id={`${id}-add`}>
        Add reminder
      </button>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </fieldset>
  );
}
