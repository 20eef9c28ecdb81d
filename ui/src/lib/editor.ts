// The task editor's form state, from a task and back to the body of POST/PATCH /tasks.

import { type RecurrenceModel, fromRRule, toRRule } from "./rrule";
import { instantToWall, wallToRfc3339 } from "./time";
import type { Anchor, Priority, ReminderIn, Task, TaskWrite } from "./types";

export type ReminderUnit = "minutes" | "hours" | "days";
export const UNIT_MINUTES: Record<ReminderUnit, number> = { minutes: 1, hours: 60, days: 1440 };

export interface ReminderDraft {
  key: string;
  kind: "before" | "at";
  amount: number;
  unit: ReminderUnit;
  /** datetime-local value (wall time in the task's zone): YYYY-MM-DDTHH:MM[:SS] */
  at: string;
  status?: string;
}

export interface TaskForm {
  title: string;
  description: string;
  priority: Priority;
  tags: string[];
  hasDue: boolean;
  date: string;
  time: string;
  allDay: boolean;
  timezone: string;
  recurrence: RecurrenceModel;
  anchor: Anchor;
  reminders: ReminderDraft[];
}

let seq = 0;
export const reminderKey = (): string => `r${++seq}`;

export function splitOffset(minutes: number): { amount: number; unit: ReminderUnit } {
  if (minutes > 0 && minutes % 1440 === 0) return { amount: minutes / 1440, unit: "days" };
  if (minutes > 0 && minutes % 60 === 0) return { amount: minutes / 60, unit: "hours" };
  return { amount: minutes, unit: "minutes" };
}

export function emptyForm(timezone: string): TaskForm {
  return {
    title: "",
    description: "",
    priority: "none",
    tags: [],
    hasDue: false,
    date: "",
    time: "",
    allDay: false,
    timezone,
    recurrence: fromRRule(null),
    anchor: "schedule",
    reminders: [],
  };
}

export function taskToForm(task: Task): TaskForm {
  const tz = task.timezone;
  const wall = task.due_at ? instantToWall(task.due_at, tz) : null;
  return {
    title: task.title,
    description: task.description,
    priority: task.priority,
    tags: [...task.tags],
    hasDue: Boolean(task.due_at),
    date: wall?.date ?? "",
    time: wall && !task.all_day ? wall.time : "",
    allDay: task.all_day,
    timezone: tz,
    recurrence: fromRRule(task.recurrence?.rrule, wall?.date),
    anchor: task.recurrence?.anchor ?? "schedule",
    reminders: task.reminders
      .filter((r) => r.status !== "cancelled" || task.status === "done")
      .map((r) => {
        if (r.offset_minutes !== null) return { key: reminderKey(), kind: "before" as const, ...splitOffset(r.offset_minutes), at: "", status: r.status };
        const w = r.at ? instantToWall(r.at, tz) : { date: "", time: "" };
        return { key: reminderKey(), kind: "at" as const, amount: 30, unit: "minutes" as const, at: w.date ? `${w.date}T${w.time}` : "", status: r.status };
      }),
  };
}

export interface FormProblem {
  field: string;
  message: string;
}

/** What keeps the form from being saved, field by field (the server checks again). */
export function validateForm(f: TaskForm): FormProblem[] {
  const out: FormProblem[] = [];
  if (!f.title.trim()) out.push({ field: "title", message: "A task needs a title." });
  if (f.title.length > 500) out.push({ field: "title", message: "At most 500 characters." });
  if (f.description.length > 20000) out.push({ field: "description", message: "At most 20,000 characters." });
  if (f.tags.length > 30) out.push({ field: "tags", message: "At most 30 tags." });
  if (f.hasDue && !f.date) out.push({ field: "due_at", message: "Pick a date, or turn the due date off." });
  if (f.recurrence.freq !== "none" && !(f.hasDue && f.date))
    out.push({ field: "recurrence", message: "A repeating task needs a due date." });
  if (f.recurrence.freq === "custom" && !toRRule(f.recurrence)) out.push({ field: "recurrence", message: "Write the rule, or choose another option." });
  if (f.reminders.length > 10) out.push({ field: "reminders", message: "At most 10 reminders." });
  for (const r of f.reminders) {
    if (r.kind === "before" && !(f.hasDue && f.date)) out.push({ field: "reminders", message: "A reminder before the due time needs a due date." });
    if (r.kind === "before" && !(r.amount >= 0)) out.push({ field: "reminders", message: "Say how long before." });
    if (r.kind === "at" && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(r.at)) out.push({ field: "reminders", message: "Pick the reminder's date and time." });
  }
  return out;
}

export function remindersOf(f: TaskForm): ReminderIn[] {
  return f.reminders.map((r) => {
    if (r.kind === "before") return { offset_minutes: Math.round(r.amount * UNIT_MINUTES[r.unit]) };
    const [date = "", time = "00:00"] = r.at.split("T");
    return { at: wallToRfc3339(date, time, f.timezone) };
  });
}

/** The full body of POST /tasks for the form. */
export function formToWrite(f: TaskForm): TaskWrite & { title: string } {
  const rrule = toRRule(f.recurrence);
  const due = f.hasDue && f.date ? (f.allDay || !f.time ? f.date : wallToRfc3339(f.date, f.time, f.timezone)) : null;
  return {
    title: f.title.trim(),
    description: f.description,
    priority: f.priority,
    tags: f.tags,
    due_at: due,
    all_day: Boolean(due) && (f.allDay || !f.time),
    timezone: f.timezone,
    recurrence: rrule && due ? { rrule, anchor: f.anchor } : null,
    reminders: remindersOf(f),
  };
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Only what changed between two forms, as a PATCH body ({} when nothing did). */
export function diffWrite(before: TaskForm, after: TaskForm): TaskWrite {
  const a = formToWrite(before);
  const b = formToWrite(after);
  const out: TaskWrite = {};
  if (a.title !== b.title) out.title = b.title;
  if (a.description !== b.description) out.description = b.description;
  if (a.priority !== b.priority) out.priority = b.priority;
  if (!same(a.tags, b.tags)) out.tags = b.tags;
  const dueChanged = a.due_at !== b.due_at || a.all_day !== b.all_day || a.timezone !== b.timezone;
  if (dueChanged) {
    out.due_at = b.due_at;
    out.all_day = b.all_day;
    if (a.timezone !== b.timezone) out.timezone = b.timezone;
  }
  if (!same(a.recurrence, b.recurrence)) out.recurrence = b.recurrence;
  if (!same(a.reminders, b.reminders)) out.reminders = b.reminders;
  return out;
}
