"use client";

import { type FormEvent, useEffect, useId, useMemo, useRef, useState } from "react";
import { ApiError } from "@/lib/api";
import { type TaskForm, diffWrite, emptyForm, formToWrite, taskToForm, validateForm } from "@/lib/editor";
import { defaultModel } from "@/lib/rrule";
import { allZones, formatInstant, instantToWall, wallToInstant } from "@/lib/time";
import { PRIORITIES, type Task, type TaskWrite } from "@/lib/types";
import { RecurrenceBuilder } from "./RecurrenceBuilder";
import { RemindersEditor } from "./RemindersEditor";
import { TagInput } from "./TagInput";

export interface TaskEditorProps {
  /** null: a new task */
  task: Task | null;
  userZone: string;
  tagSuggestions: string[];
  /** create (task null) or patch (only changed fields); throws ApiError to show */
  onSave: (body: TaskWrite, task: Task | null) => Promise<void>;
  onCancel: () => void;
  onToggleDone?: (task: Task) => void;
  onDelete?: (task: Task) => void;
  /** the user added a reminder (the app asks for notification permission on the first) */
  onReminderAdded?: () => void;
}

const PRIORITY_LABEL: Record<string, string> = { high: "High", medium: "Medium", low: "Low", none: "None" };

export function TaskEditor({ task, userZone, tagSuggestions, onSave, onCancel, onToggleDone, onDelete, onReminderAdded }: TaskEditorProps) {
  const id = useId();
  const initial = useMemo(() => (task ? taskToForm(task) : emptyForm(userZone)), [task, userZone]);
  const [form, setForm] = useState<TaskForm>(initial);
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [serverError, setServerError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const titleRef = useRef<HTMLInputElement>(null);
  const zones = useMemo(() => allZones(), []);

  // a newer version of the same task arrived (realtime): take it when nothing was edited here
  const [base, setBase] = useState(initial);
  useEffect(() => {
    setForm((current) => (JSON.stringify(current) === JSON.stringify(base) ? initial : current));
    setBase(initial);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [initial]);

  useEffect(() => {
    titleRef.current?.focus();
  }, []);

  const set = (patch: Partial<TaskForm>) => setForm((f) => ({ ...f, ...patch }));

  const setDueDate = (date: string) => {
    setForm((f) => {
      // rules started without a date follow the first date picked
      const recurrence = f.recurrence.freq === "none" ? defaultModel("none", date) : f.recurrence;
      return { ...f, date, hasDue: Boolean(date) || f.hasDue, recurrence };
    });
  };

  const changeZone = (tz: string) => {
    // keep the same instant, shown in the new zone
    setForm((f) => {
      if (!f.hasDue || !f.date || f.allDay || !f.time) return { ...f, timezone: tz };
      const w = instantToWall(wallToInstant(f.date, f.time, f.timezone), tz);
      return { ...f, timezone: tz, date: w.date, time: w.time };
    });
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const found = validateForm(form);
    const byField: Record<string, string> = {};
    for (const p of found) byField[p.field] ??= p.message;
    setProblems(byField);
    setServerError(null);
    if (found.length) {
      const first = found[0]?.field;
      const el = document.getElementById(`${id}-${first}`) ?? document.querySelector<HTMLElement>(`[data-field="${first}"] input, [data-field="${first}"] select`);
      el?.focus();
      return;
    }
    const body = task ? diffWrite(base, form) : formToWrite(form);
    if (task && Object.keys(body).length === 0) {
      onCancel();
      return;
    }
    setSaving(true);
    try {
      await onSave(body, task);
    } catch (err) {
      if (err instanceof ApiError) {
        const fields: Record<string, string> = {};
        for (const d of err.details) if (d.field) fields[d.field.split(".")[0] ?? d.field] ??= d.message;
        setProblems(fields);
        setServerError(err.status === 412 ? "Someone changed this task meanwhile. Your edits are kept: review and save again." : err.message);
      } else {
        setServerError(err instanceof Error ? err.message : String(err));
      }
    } finally {
      setSaving(false);
    }
  };

  const dueHint =
    form.hasDue && form.date && !form.allDay && form.time && form.timezone !== userZone
      ? `= ${formatInstant(wallToInstant(form.date, form.time, form.timezone).toISOString(), userZone)} in ${userZone}`
      : null;

  return (
    <form className="editor" onSubmit={submit} noValidate aria-labelledby={`${id}-heading`}>
      <header className="editor-head">
        <h2 id={`${id}-heading`}>{task ? "Edit task" : "New task"}</h2>
        {task?.recurrence && task.next_due_at && (
          <p className="hint">Next after this one: {formatInstant(task.next_due_at, userZone)}</p>
        )}
      </header>

      {serverError && (
        <p className="form-error" role="alert">
          {serverError}
        </p>
      )}

      <div className="field" data-field="title">
        <label htmlFor={`${id}-title`}>Title</label>
        <input
          id={`${id}-title`}
          ref={titleRef}
          value={form.title}
          maxLength={500}
          required
          aria-invalid={problems.title ? true : undefined}
          aria-describedby={problems.title ? `${id}-title-error` : undefined}
          onChange={(e) => set({ title: e.target.value })}
        />
        {problems.title && (
          <p id={`${id}-title-error`} className="field-error">
            {problems.title}
          </p>
        )}
      </div>

      <div className="field">
        <label htmlFor={`${id}-description`}>Description</label>
        <textarea id={`${id}-description`} rows={3} value={form.description} maxLength={20000} onChange={(e) => set({ description: e.target.value })} />
      </div>

      <fieldset className="field priority-field" data-field="priority">
        <legend>Priority</legend>
        <div className="segmented">
          {PRIORITIES.map((p) => (
            <label key={p} className={`seg prio-${p}`}>
              <input type="radio" name={`${id}-priority`} value={p} checked={form.priority === p} onChange={() => set({ priority: p })} />
              <span>{PRIORITY_LABEL[p]}</span>
            </label>
          ))}
        </div>
      </fieldset>

      <div className="field" data-field="tags">
        <TagInput value={form.tags} onChange={(tags) => set({ tags })} suggestions={tagSuggestions} />
        {problems.tags && <p className="field-error">{problems.tags}</p>}
      </div>

      <fieldset className="field due" data-field="due_at">
        <legend>Due</legend>
        <label className="check">
          <input type="checkbox" checked={form.hasDue} onChange={(e) => set({ hasDue: e.target.checked })} />
          Has a due date
        </label>
        {form.hasDue && (
          <div className="due-row">
            <div>
              <label htmlFor={`${id}-due_at`}>Date</label>
              <input id={`${id}-due_at`} type="date" value={form.date} onChange={(e) => setDueDate(e.target.value)} />
            </div>
            {!form.allDay && (
              <div>
                <label htmlFor={`${id}-time`}>Time</label>
                <input id={`${id}-time`} type="time" value={form.time} onChange={(e) => set({ time: e.target.value })} />
              </div>
            )}
            <label className="check">
              <input type="checkbox" checked={form.allDay} onChange={(e) => set({ allDay: e.target.checked })} />
              All day
            </label>
            <div>
              <label htmlFor={`${id}-timezone`}>Time zone</label>
              <select id={`${id}-timezone`} value={form.timezone} onChange={(e) => changeZone(e.target.value)}>
                {(zones.includes(form.timezone) ? zones : [form.timezone, ...zones]).map((z) => (
                  <option key={z} value={z}>
                    {z}
                  </option>
                ))}
              </select>
            </div>
          </div>
        )}
        {dueHint && <p className="hint">{dueHint}</p>}
        {problems.due_at && <p className="field-error">{problems.due_at}</p>}
      </fieldset>

      <div data-field="recurrence">
        <RecurrenceBuilder
          value={form.recurrence}
          onChange={(recurrence) => set({ recurrence })}
          anchor={form.anchor}
          onAnchorChange={(anchor) => set({ anchor })}
          dueDate={form.hasDue && form.date ? form.date : null}
          error={problems.recurrence}
        />
      </div>

      <div data-field="reminders">
        <RemindersEditor
          value={form.reminders}
          onChange={(reminders) => set({ reminders })}
          dueDate={form.date}
          dueTime={form.time}
          hasDue={form.hasDue && Boolean(form.date)}
          timezone={form.timezone}
          onAdd={onReminderAdded}
          error={problems.reminders}
        />
      </div>

      <footer className="editor-actions">
        {task && onToggleDone && (
          <button type="button" className="secondary" onClick={() => onToggleDone(task)}>
            {task.status === "done" ? "Reopen" : "Complete"}
          </button>
        )}
        {task && onDelete && (
          <button type="button" className="danger" onClick={() => onDelete(task)}>
            Delete
          </button>
        )}
        <span className="spacer" />
        <button type="button" className="secondary" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="primary" disabled={saving}>
          {saving ? "Saving…" : task ? "Save" : "Add task"}
        </button>
      </footer>
    </form>
  );
}
