"use client";

import { describeRRule } from "@/lib/rrule";
import { formatDue, isOverdue } from "@/lib/time";
import type { Task } from "@/lib/types";

export interface TaskListProps {
  tasks: Task[];
  userZone: string;
  loading: boolean;
  error: string | null;
  hasMore: boolean;
  onLoadMore: () => void;
  onOpen: (task: Task) => void;
  onToggleDone: (task: Task) => void;
  onDelete: (task: Task) => void;
  emptyText: string;
  selectedId?: string | null;
}

const PRIORITY_LABEL: Record<string, string> = { high: "High priority", medium: "Medium priority", low: "Low priority" };

export function TaskItem({
  task,
  userZone,
  onOpen,
  onToggleDone,
  onDelete,
  selected,
}: {
  task: Task;
  userZone: string;
  onOpen: (t: Task) => void;
  onToggleDone: (t: Task) => void;
  onDelete: (t: Task) => void;
  selected?: boolean;
}) {
  const done = task.status === "done";
  const overdue = !done && isOverdue(task.due_at, task.all_day, task.timezone);
  const pendingReminders = task.reminders.filter((r) => r.status === "pending").length;
  return (
    <li className={`task prio-${task.priority}${done ? " done" : ""}${selected ? " selected" : ""}`} data-task-id={task.id}>
      <input
        type="checkbox"
        className="task-check"
        checked={done}
        onChange={() => onToggleDone(task)}
        aria-label={`${done ? "Reopen" : "Complete"} “${task.title}”`}
      />
      <button type="button" className="task-main" onClick={() => onOpen(task)} aria-label={`Edit “${task.title}”`}>
        <span className="task-title">{task.title}</span>
        <span className="task-meta">
          {task.due_at && (
            <span className={`due${overdue ? " overdue" : ""}`}>
              {overdue ? "Overdue · " : ""}
              {formatDue(task.due_at, task.all_day, task.timezone, userZone)}
            </span>
          )}
          {task.priority !== "none" && <span className={`prio prio-${task.priority}`}>{PRIORITY_LABEL[task.priority]}</span>}
          {task.recurrence && (
            <span className="recur" title={task.recurrence.rrule}>
              ↻ {describeRRule(task.recurrence.rrule)}
            </span>
          )}
          {pendingReminders > 0 && (
            <span className="remind">
              {pendingReminders} reminder{pendingReminders > 1 ? "s" : ""}
            </span>
          )}
          {task.tags.map((t) => (
            <span key={t} className="tag">
              #{t}
            </span>
          ))}
        </span>
      </button>
      <button type="button" className="icon-button delete" onClick={() => onDelete(task)} aria-label={`Delete “${task.title}”`}>
        <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
          <path d="M9 3h6l1 2h4v2H4V5h4l1-2zm-3 6h12l-1 12H7L6 9z" fill="currentColor" />
        </svg>
      </button>
    </li>
  );
}

export function TaskList({ tasks, userZone, loading, error, hasMore, onLoadMore, onOpen, onToggleDone, onDelete, emptyText, selectedId }: TaskListProps) {
  return (
    <section className="task-list" aria-label="Tasks" aria-busy={loading}>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {!loading && !error && tasks.length === 0 && <p className="empty">{emptyText}</p>}
      <ul className="tasks">
        {tasks.map((t) => (
          <TaskItem key={t.id} task={t} userZone={userZone} onOpen={onOpen} onToggleDone={onToggleDone} onDelete={onDelete} selected={t.id === selectedId} />
        ))}
      </ul>
      {hasMore && (
        <button type="button" className="secondary load-more" onClick={onLoadMore} disabled={loading}>
          {loading ? "Loading…" : "Load more"}
        </button>
      )}
    </section>
  );
}
