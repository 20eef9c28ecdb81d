"use client";

import { type ReactNode, useEffect, useId, useRef, useState } from "react";
import { ApiError } from "@/lib/api";
import { describeRRule } from "@/lib/rrule";
import { formatDue, formatInstant } from "@/lib/time";
import type { Draft, TaskWrite } from "@/lib/types";

export interface QuickAddProps {
  timezone: string;
  /** POST /api/v1/parse */
  parse: (text: string, signal: AbortSignal) => Promise<Draft>;
  /** POST /api/v1/tasks with the draft's body */
  onCreate: (body: TaskWrite & { title: string }, draft: Draft) => Promise<void>;
  debounceMs?: number;
  inputRef?: React.Ref<HTMLInputElement>;
}

const KIND_LABEL: Record<string, string> = {
  date: "Date",
  time: "Time",
  recurrence: "Repeats",
  priority: "Priority",
  tag: "Tag",
  reminder: "Reminder",
};

function reminderText(r: Draft["reminders"][number], tz: string): string {
  if ("offset_minutes" in r) {
    const m = r.offset_minutes;
    if (m === 0) return "at due time";
    if (m % 1440 === 0) return `${m / 1440} day${m === 1440 ? "" : "s"} before`;
    if (m % 60 === 0) return `${m / 60} hour${m === 60 ? "" : "s"} before`;
    return `${m} min before`;
  }
  return `at ${formatInstant(r.at, tz)}`;
}

/** The typed text with the phrases the parser recognised marked. */
export function Highlighted({ text, draft }: { text: string; draft: Draft }) {
  const spans = [...draft.recognised].sort((a, b) => a.start - b.start);
  const out: ReactNode[] = [];
  let at = 0;
  spans.forEach((s, i) => {
    if (s.start < at) return;
    if (s.start > at) out.push(text.slice(at, s.start));
    out.push(
      <mark key={i} className={`rec rec-${s.kind}`} title={KIND_LABEL[s.kind] ?? s.kind}>
        {text.slice(s.start, s.end)}
      </mark>,
    );
    at = s.end;
  });
  if (at < text.length) out.push(text.slice(at));
  return <>{out}</>;
}

/** Quick add: type a sentence, see what will be saved (through /parse), press Enter. */
export function QuickAdd({ timezone, parse, onCreate, debounceMs = 250, inputRef }: QuickAddProps) {
  const id = useId();
  const [text, setText] = useState("");
  const [draft, setDraft] = useState<{ text: string; draft: Draft } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const pending = useRef<AbortController | null>(null);

  useEffect(() => {
    const t = text.trim();
    pending.current?.abort();
    if (!t) {
      setDraft(null);
      setError(null);
      return;
    }
    const ctl = new AbortController();
    pending.current = ctl;
    const timer = setTimeout(() => {
      parse(text, ctl.signal).then(
        (d) => {
          if (!ctl.signal.aborted) {
            setDraft({ text, draft: d });
            setError(null);
          }
        },
        (e: unknown) => {
          if (!ctl.signal.aborted && !(e instanceof DOMException && e.name === "AbortError")) setError(e instanceof Error ? e.message : String(e));
        },
      );
    }, debounceMs);
    return () => {
      clearTimeout(timer);
      ctl.abort();
    };
  }, [text, parse, debounceMs]);

  const submit = async () => {
    const t = text.trim();
    if (!t || busy) return;
    setBusy(true);
    setError(null);
    try {
      pending.current?.abort();
      const d = draft && draft.text === text ? draft.draft : await parse(text, new AbortController().signal);
      if (!d.task.title?.trim()) {
        setError("Add a few words for the title.");
        return;
      }
      await onCreate(d.task, d);
      setText("");
      setDraft(null);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  const d = draft?.draft;
  const current = draft && draft.text === text;

  return (
    <div className="quick-add">
      <label htmlFor={`${id}-input`} className="visually-hidden">
        Quick add a task
      </label>
      <div className="quick-add-row">
        <input
          id={`${id}-input`}
          ref={inputRef}
          className="quick-add-input"
          placeholder="Add a task: “pay rent every month on the 1st at 9 #home high priority”"
          value={text}
          maxLength={1000}
          autoComplete="off"
          aria-describedby={`${id}-preview`}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              void submit();
            } else if (e.key === "Escape" && text) {
              e.preventDefault();
              setText("");
            }
          }}
        />
        <button type="button" className="primary" onClick={() => void submit()} disabled={!text.trim() || busy}>
          Add
        </button>
      </div>
      <div id={`${id}-preview`} className="quick-preview" role="status" aria-live="polite" data-testid="quick-add-preview">
        {error && <p className="field-error">{error}</p>}
        {d && current && text.trim() && (
          <>
            <p className="preview-text">
              <Highlighted text={draft.text} draft={d} />
            </p>
            <ul className="preview-chips" aria-label="Will be saved as">
              <li className="pchip title">
                <span className="k">Title</span> {d.title || <em>(empty)</em>}
              </li>
              {d.due_at && (
                <li className="pchip due">
                  <span className="k">Due</span> {formatDue(d.due_at, d.all_day, d.timezone, timezone)}
                </li>
              )}
              {d.priority && d.priority !== "none" && (
                <li className={`pchip prio-${d.priority}`}>
                  <span className="k">Priority</span> {d.priority}
                </li>
              )}
              {d.tags.map((t) => (
                <li key={t} className="pchip tag">
                  #{t}
                </li>
              ))}
              {d.recurrence && (
                <li className="pchip recur">
                  <span className="k">Repeats</span> {d.recurrence.description || describeRRule(d.recurrence.rrule)}
                </li>
              )}
              {d.reminders.map((r, i) => (
                <li key={i} className="pchip remind">
                  <span className="k">Reminder</span> {reminderText(r, timezone)}
                </li>
              ))}
            </ul>
            {d.notes.length > 0 && <p className="hint">{d.notes.join(" · ")}</p>}
          </>
        )}
      </div>
    </div>
  );
}
