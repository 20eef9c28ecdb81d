"use client";

import { useCallback, useEffect, useId, useRef, useState } from "react";
import { API_BASE, api, authHeaders, toApiError } from "@/lib/api";
import { readSse } from "@/lib/sse";
import type { ChatThread, ChatTranscriptItem } from "@/lib/types";

type Item =
  | { kind: "user"; text: string }
  | { kind: "assistant"; text: string; streaming?: boolean }
  | { kind: "tool"; callId: string; name: string; args: Record<string, unknown>; ok?: boolean; summary?: string; taskIds: string[] }
  | { kind: "error"; text: string };

export interface ChatPanelProps {
  onOpenTask: (taskId: string) => void;
  /** task titles the panel can show on its links, when known */
  titleOf?: (taskId: string) => string | undefined;
}

const TOOL_LABEL: Record<string, string> = {
  add_task: "Adding a task",
  list_tasks: "Looking through tasks",
  get_task: "Reading a task",
  update_task: "Updating a task",
  complete_task: "Completing a task",
  reopen_task: "Reopening a task",
  delete_task: "Deleting a task",
  list_tags: "Listing tags",
  list_notifications: "Reading notifications",
};

function fromTranscript(messages: ChatTranscriptItem[]): Item[] {
  return messages.map((m): Item => {
    if (m.role === "tool")
      return { kind: "tool", callId: m.call_id, name: m.name, args: m.arguments, ok: m.ok, summary: m.summary, taskIds: m.task_ids ?? [] };
    return m.role === "user" ? { kind: "user", text: m.text } : { kind: "assistant", text: m.text };
  });
}

/** The built-in chat panel on POST /api/v1/chat: streamed answers, tool activity, links to tasks, threads. */
export function ChatPanel({ onOpenTask, titleOf }: ChatPanelProps) {
  const id = useId();
  const [threads, setThreads] = useState<ChatThread[]>([]);
  const [threadId, setThreadId] = useState<string | null>(null);
  const [items, setItems] = useState<Item[]>([]);
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const abort = useRef<AbortController | null>(null);
  const logRef = useRef<HTMLOListElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);

  const loadThreads = useCallback(async () => {
    try {
      const page = await api<{ items: ChatThread[] }>("/api/v1/chat/threads?limit=30");
      setThreads(page.items);
    } catch {
      /* the list is a convenience */
    }
  }, []);

  useEffect(() => {
    void loadThreads();
    inputRef.current?.focus();
    return () => abort.current?.abort();
  }, [loadThreads]);

  useEffect(() => {
    const el = logRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [items]);

  const openThread = async (tid: string) => {
    abort.current?.abort();
    if (!tid) {
      setThreadId(null);
      setItems([]);
      return;
    }
    try {
      const t = await api<{ id: string; messages: ChatTranscriptItem[] }>(`/api/v1/chat/threads/${tid}`);
      setThreadId(t.id);
      setItems(fromTranscript(t.messages));
    } catch (e) {
      setItems([{ kind: "error", text: e instanceof Error ? e.message : String(e) }]);
    }
  };

  const send = async () => {
    const message = text.trim();
    if (!message || busy) return;
    setText("");
    setBusy(true);
    setItems((it) => [...it, { kind: "user", text: message }]);
    const ctl = new AbortController();
    abort.current = ctl;
    const update = (fn: (it: Item[]) => Item[]) => setItems(fn);
    try {
      const res = await fetch(`${API_BASE}/api/v1/chat`, {
        method: "POST",
        headers: authHeaders({ "Content-Type": "application/json", Accept: "text/event-stream" }),
        body: JSON.stringify(threadId ? { message, thread_id: threadId } : { message }),
        signal: ctl.signal,
      });
      if (!res.ok || !res.body) throw await toApiError(res);
      for await (const ev of readSse(res.body, ctl.signal)) {
        let data: Record<string, unknown> = {};
        try {
          data = JSON.parse(ev.data) as Record<string, unknown>;
        } catch {
          continue;
        }
        switch (ev.event) {
          case "thread":
            setThreadId(String(data.thread_id));
            break;
          case "delta":
            update((it) => {
              const last = it[it.length - 1];
              if (last?.kind === "assistant" && last.streaming) return [...it.slice(0, -1), { ...last, text: last.text + String(data.text ?? "") }];
              return [...it, { kind: "assistant", text: String(data.text ?? ""), streaming: true }];
            });
            break;
          case "tool_call":
            update((it) => [
              ...it,
              { kind: "tool", callId: String(data.call_id), name: String(data.name), args: (data.arguments as Record<string, unknown>) ?? {}, taskIds: [] },
            ]);
            break;
          case "tool_result":
            update((it) => {
              const idx = it.findIndex((x) => x.kind === "tool" && x.callId === data.call_id);
              const result = {
                ok: Boolean(data.ok),
                summary: String(data.summary ?? ""),
                taskIds: Array.isArray(data.task_ids) ? data.task_ids.map(String) : [],
              };
              if (idx < 0)
                return [...it, { kind: "tool", callId: String(data.call_id), name: String(data.name), args: {}, ...result }];
              const copy = [...it];
              copy[idx] = { ...(copy[idx] as Extract<Item, { kind: "tool" }>), ...result };
              return copy;
            });
            break;
          case "message":
            update((it) => {
              const last = it[it.length - 1];
              const final = String(data.text ?? "");
              if (last?.kind === "assistant" && last.streaming) return [...it.slice(0, -1), { kind: "assistant", text: final || last.text }];
              return [...it, { kind: "assistant", text: final }];
            });
            break;
          case "error":
            update((it) => [...it, { kind: "error", text: String(data.message ?? "The assistant could not answer.") }]);
            break;
        }
      }
    } catch (e) {
      if (!(e instanceof DOMException && e.name === "AbortError"))
        update((it) => [...it, { kind: "error", text: e instanceof Error ? e.message : String(e) }]);
    } finally {
      update((it) => it.map((x) => (x.kind === "assistant" && x.streaming ? { ...x, streaming: false } : x)));
      setBusy(false);
      abort.current = null;
      void loadThreads();
      inputRef.current?.focus();
    }
  };

  return (
    <section className="chat-panel" aria-labelledby={`${id}-title`}>
      <header className="chat-head">
        <h2 id={`${id}-title`}>Assistant</h2>
        <label htmlFor={`${id}-threads`} className="visually-hidden">
          Conversation
        </label>
        <select id={`${id}-threads`} value={threadId ?? ""} onChange={(e) => void openThread(e.target.value)}>
          <option value="">New conversation</option>
          {threadId && !threads.some((t) => t.id === threadId) && <option value={threadId}>This conversation</option>}
          {threads.map((t) => (
            <option key={t.id} value={t.id}>
              {t.title || "Untitled"}
            </option>
          ))}
        </select>
        <button type="button" className="secondary" onClick={() => void openThread("")} disabled={busy}>
          New
        </button>
      </header>
      <ol className="chat-log" ref={logRef} aria-live="polite" aria-label="Conversation">
        {items.length === 0 && (
          <li className="hint">Ask me to add, find, change or complete tasks — e.g. “add pay rent every month on the 1st at 9, remind me the day before”.</li>
        )}
        {items.map((it, i) => {
          if (it.kind === "user")
            return (
              <li key={i} className="msg user">
                <span className="visually-hidden">You: </span>
                {it.text}
              </li>
            );
          if (it.kind === "assistant")
            return (
              <li key={i} className="msg assistant" aria-busy={it.streaming}>
                <span className="visually-hidden">Assistant: </span>
                {it.text}
                {it.streaming && <span className="cursor" aria-hidden="true" />}
              </li>
            );
          if (it.kind === "error")
            return (
              <li key={i} className="msg error" role="alert">
                {it.text}
              </li>
            );
          return (
            <li key={i} className={`msg tool${it.ok === false ? " failed" : ""}`} data-tool={it.name}>
              <details>
                <summary>
                  <span className="tool-icon" aria-hidden="true">
                    {it.ok === undefined ? "⋯" : it.ok ? "✓" : "✗"}
                  </span>{" "}
                  {it.summary || `${TOOL_LABEL[it.name] ?? it.name}…`}
                </summary>
                <code className="tool-args">
                  {it.name}({JSON.stringify(it.args)})
                </code>
              </details>
              {it.taskIds.length > 0 && (
                <ul className="task-links">
                  {it.taskIds.map((tid) => (
                    <li key={tid}>
                      <a
                        href={`/?task=${tid}`}
                        onClick={(e) => {
                          e.preventDefault();
                          onOpenTask(tid);
                        }}
                      >
                        Open {titleOf?.(tid) ? `“${titleOf(tid)}”` : "task"}
                      </a>
                    </li>
                  ))}
                </ul>
              )}
            </li>
          );
        })}
      </ol>
      <form
        className="chat-input"
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <label htmlFor={`${id}-input`} className="visually-hidden">
          Message the assistant
        </label>
        <textarea
          id={`${id}-input`}
          ref={inputRef}
          rows={2}
          value={text}
          maxLength={4000}
          placeholder="Message the assistant"
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey) {
              e.preventDefault();
              void send();
            }
          }}
        />
        <button type="submit" className="primary" disabled={busy || !text.trim()}>
          {busy ? "…" : "Send"}
        </button>
      </form>
    </section>
  );
}
