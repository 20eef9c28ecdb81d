// Shapes of the public HTTP contract (ARCHITECTURE §3, /openapi.json).

export type Priority = "high" | "medium" | "low" | "none";
export type Status = "open" | "done";
export type Anchor = "schedule" | "completion";

export const PRIORITIES: readonly Priority[] = ["high", "medium", "low", "none"];

export interface Recurrence {
  rrule: string;
  anchor: Anchor;
}

export interface Reminder {
  id: string;
  offset_minutes: number | null;
  at: string | null;
  fire_at: string | null;
  status: "pending" | "fired" | "delivered" | "cancelled";
}

/** A reminder as POST/PATCH /tasks take it: minutes before due, or an absolute time. */
export type ReminderIn = { offset_minutes: number } | { at: string };

export interface Task {
  id: string;
  title: string;
  description: string;
  status: Status;
  priority: Priority;
  tags: string[];
  due_at: string | null;
  all_day: boolean;
  timezone: string;
  recurrence: Recurrence | null;
  series_id: string | null;
  occurrence: number;
  next_due_at: string | null;
  reminders: Reminder[];
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  version: number;
}

export interface TaskPage {
  items: Task[];
  next_cursor: string | null;
}

export interface TaskWrite {
  title?: string;
  description?: string;
  priority?: Priority;
  tags?: string[];
  due_at?: string | null;
  all_day?: boolean;
  timezone?: string;
  recurrence?: Recurrence | null;
  reminders?: ReminderIn[];
}

export interface Tag {
  name: string;
  count: number;
  open_count: number;
}

export interface User {
  id: string;
  email: string;
  timezone: string;
  created_at: string;
}

export interface Notification {
  id: string;
  task_id: string | null;
  reminder_id: string | null;
  kind: string;
  title: string;
  body: string;
  data: Record<string, unknown>;
  late: boolean;
  created_at: string;
  read_at: string | null;
}

export interface NotificationPage {
  items: Notification[];
  next_cursor: string | null;
  unread_count: number;
}

export interface Recognised {
  kind: string;
  text: string;
  start: number;
  end: number;
}

export interface Draft {
  title: string;
  due_at: string | null;
  all_day: boolean;
  timezone: string;
  priority: Priority | null;
  tags: string[];
  recurrence: (Recurrence & { description: string }) | null;
  reminders: ReminderIn[];
  recognised: Recognised[];
  notes: string[];
  task: TaskWrite & { title: string };
}

export interface ChatThread {
  id: string;
  title: string;
  created_at: string;
  updated_at: string;
}

export type ChatTranscriptItem =
  | { role: "user" | "assistant"; text: string }
  | {
      role: "tool";
      call_id: string;
      name: string;
      arguments: Record<string, unknown>;
      ok?: boolean;
      summary?: string;
      task_ids?: string[];
    };
