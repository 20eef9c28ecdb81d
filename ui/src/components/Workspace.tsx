"use client";

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ApiError, api, newIdempotencyKey, setToken } from "@/lib/api";
import { permissionState, registerServiceWorker, requestPermission, showNotification, subscribePush, unsubscribePush } from "@/lib/notify";
import { type Filters, VIEWS, type View, buildTaskQuery, filtersFromSearch, filtersToSearch, viewTitle } from "@/lib/query";
import { RealtimeClient, type RealtimeStatus } from "@/lib/realtime";
import type { Draft, Notification, NotificationPage, Tag, Task, TaskWrite, User } from "@/lib/types";
import { ChatKitPanel, useChatKitAvailability } from "./ChatKitPanel";
import { ChatPanel } from "./ChatPanel";
import { FilterBar } from "./FilterBar";
import { Modal } from "./Modal";
import { NotificationsBell } from "./NotificationsBell";
import { QuickAdd } from "./QuickAdd";
import { type ChatEngine, SettingsPanel } from "./SettingsPanel";
import { TaskEditor } from "./TaskEditor";
import { TaskList } from "./TaskList";
import { useToasts } from "./Toasts";
import { useTaskList } from "./useTaskList";

const EMPTY_TEXT: Record<View, string> = {
  today: "Nothing due today. Add a task above.",
  upcoming: "Nothing coming up.",
  overdue: "Nothing overdue. Nice.",
  all: "No tasks match.",
};

const CHAT_ENGINE_KEY = "todo.chatEngine";

function isTask(x: unknown): x is Task {
  return Boolean(x && typeof x === "object" && "id" in x && "title" in x && "version" in x);
}

function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el) return false;
  return el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName);
}

export function Workspace({ user, onUser }: { user: User; onUser: (u: User) => void }) {
  const toasts = useToasts();
  const tz = user.timezone;
  const [{ view, filters }, setVF] = useState(() => filtersFromSearch(typeof window === "undefined" ? "" : window.location.search));
  const [now, setNow] = useState(() => new Date());
  const [hidden, setHidden] = useState<Set<string>>(() => new Set());
  const [tags, setTags] = useState<Tag[]>([]);
  const [editing, setEditing] = useState<{ task: Task | null } | null>(null);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [chatOpen, setChatOpen] = useState(false);
  const [chatEngine, setChatEngine] = useState<ChatEngine>("auto");
  const [navOpen, setNavOpen] = useState(false);
  const [notes, setNotes] = useState<NotificationPage>({ items: [], next_cursor: null, unread_count: 0 });
  const [live, setLive] = useState<RealtimeStatus>("connecting");
  const quickRef = useRef<HTMLInputElement>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const editingRef = useRef(editing);
  editingRef.current = editing;

  // the day changes at midnight: views follow
  useEffect(() => {
    const t = setInterval(() => setNow(new Date()), 60_000);
    return () => clearInterval(t);
  }, []);
  const day = now.toISOString().slice(0, 13);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const query = useMemo(() => buildTaskQuery(view, filters, tz, now).toString(), [view, filters, tz, day]);
  const list = useTaskList(query);
  const visible = useMemo(() => list.items.filter((t) => !hidden.has(t.id)), [list.items, hidden]);

  // the view and filters live in the address bar (with ?task= while a task is open)
  useEffect(() => {
    const p = new URLSearchParams(filtersToSearch(view, filters));
    if (editing?.task) p.set("task", editing.task.id);
    const qs = p.toString();
    const url = `${window.location.pathname}${qs ? `?${qs}` : ""}`;
    if (url !== `${window.location.pathname}${window.location.search}`) window.history.replaceState(null, "", url);
  }, [view, filters, editing]);

  const loadTags = useCallback(async () => {
    try {
      setTags(await api<Tag[]>("/api/v1/tags"));
    } catch {
      /* keep the old list */
    }
  }, []);
  const loadNotes = useCallback(async () => {
    try {
      setNotes(await api<NotificationPage>("/api/v1/notifications?limit=30"));
    } catch {
      /* keep */
    }
  }, []);

  // opening a task by id (a link, a notification, ?task=) shows what the list has at once and then the
  // latest from the API — unless the editor was closed or another task opened meanwhile
  const openSeq = useRef(0);
  const openTask = useCallback(
    async (id: string) => {
      const seq = ++openSeq.current;
      const shown = list.items.find((t) => t.id === id);
      if (shown) setEditing({ task: shown });
      try {
        const t = await api<Task>(`/api/v1/tasks/${id}`);
        if (seq === openSeq.current) setEditing({ task: t });
      } catch (e) {
        if (!shown && seq === openSeq.current)
          toasts.show({ message: e instanceof ApiError && e.status === 404 ? "That task no longer exists." : String(e), tone: "error" });
      }
    },
    [list.items, toasts],
  );
  const closeEditor = useCallback(() => {
    openSeq.current++;
    setEditing(null);
  }, []);

  // first load: tags, inbox, ?task=, the service worker (no permission prompt), push if already allowed
  useEffect(() => {
    void loadTags();
    void loadNotes();
    const taskId = new URLSearchParams(window.location.search).get("task");
    if (taskId) void openTask(taskId);
    void registerServiceWorker().then(() => {
      if (permissionState() === "granted") void subscribePush();
    });
    try {
      setChatEngine(window.localStorage.getItem(CHAT_ENGINE_KEY) === "builtin" ? "builtin" : "auto");
    } catch {
      /* default */
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // a click on a notification shown by the service worker
  useEffect(() => {
    if (!("serviceWorker" in navigator)) return;
    const onMsg = (e: MessageEvent) => {
      const data = e.data as { type?: string; task_id?: string | null };
      if (data?.type === "open-task" && data.task_id) void openTask(data.task_id);
    };
    navigator.serviceWorker.addEventListener("message", onMsg);
    return () => navigator.serviceWorker.removeEventListener("message", onMsg);
  }, [openTask]);

  // realtime: other tabs, the chat and the event functions
  const handlers = useRef({ list, loadTags, loadNotes, openTask });
  handlers.current = { list, loadTags, loadNotes, openTask };
  useEffect(() => {
    let tagTimer: ReturnType<typeof setTimeout> | null = null;
    const client = new RealtimeClient(
      (type, data) => {
        const h = handlers.current;
        if (type.startsWith("task.")) {
          if (isTask(data)) {
            if (type === "task.deleted") {
              h.list.remove(data.id);
              if (editingRef.current?.task?.id === data.id) {
                openSeq.current++;
                setEditing(null);
                toasts.show({ message: `“${data.title}” was deleted elsewhere.` });
              }
            } else {
              h.list.upsert(data);
              setEditing((e) => (e?.task && e.task.id === data.id && e.task.version < data.version ? { task: data } : e));
            }
          }
          h.list.refresh();
          if (tagTimer) clearTimeout(tagTimer);
          tagTimer = setTimeout(() => void h.loadTags(), 400);
        } else if (type === "notification.created") {
          const n = data as Notification;
          h.list.refresh(); // the task's reminder is delivered now
          setNotes((s) => (s.items.some((x) => x.id === n.id) ? s : { ...s, items: [n, ...s.items], unread_count: s.unread_count + 1 }));
          void showNotification(
            { title: n.title, body: `${n.late ? "(late) " : ""}${n.body}`, tag: n.reminder_id ? `reminder-${n.reminder_id}` : `notification-${n.id}`, taskId: n.task_id },
            (id) => void handlers.current.openTask(id),
          );
        } else if (type === "resync") {
          h.list.refresh(0);
          void h.loadTags();
          void h.loadNotes();
        }
      },
      setLive,
    );
    client.start();
    return () => {
      client.stop();
      if (tagTimer) clearTimeout(tagTimer);
    };
  }, [toasts]);

  // keyboard: "/" search, "n" quick add, "c" chat
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.metaKey || e.ctrlKey || e.altKey || isTyping(e.target) || document.querySelector("dialog[open]")) return;
      if (e.key === "/") {
        e.preventDefault();
        searchRef.current?.focus();
      } else if (e.key === "n") {
        e.preventDefault();
        quickRef.current?.focus();
      } else if (e.key === "c") {
        e.preventDefault();
        setChatOpen((o) => !o);
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  const askPermissionOnFirstReminder = useCallback(() => {
    if (permissionState() === "default") void requestPermission();
  }, []);

  // -- commands -----------------------------------------------------------------------------------

  const create = useCallback(
    async (body: TaskWrite & { title: string }) => {
      const t = await api<Task>("/api/v1/tasks", { method: "POST", body, headers: { "Idempotency-Key": newIdempotencyKey() } });
      list.refresh(0);
      void loadTags();
      toasts.show({ message: `Added “${t.title}”`, action: { label: "Open", run: () => setEditing({ task: t }) } });
      return t;
    },
    [list, loadTags, toasts],
  );

  const quickCreate = useCallback(
    async (body: TaskWrite & { title: string }, draft: Draft) => {
      if (draft.reminders.length) askPermissionOnFirstReminder();
      await create(body);
    },
    [create, askPermissionOnFirstReminder],
  );

  const parse = useCallback(
    (text: string, signal: AbortSignal) => api<Draft>("/api/v1/parse", { method: "POST", body: { text, timezone: tz }, signal }),
    [tz],
  );

  const save = useCallback(
    async (body: TaskWrite, task: Task | null) => {
      if (!task) {
        await create({ title: "", ...body } as TaskWrite & { title: string });
        openSeq.current++;
        setEditing(null);
        return;
      }
      try {
        const t = await api<Task>(`/api/v1/tasks/${task.id}`, { method: "PATCH", body, headers: { "If-Match": `"${task.version}"` } });
        list.upsert(t);
        list.refresh();
        void loadTags();
        openSeq.current++;
        setEditing(null);
        toasts.show({ message: `Saved “${t.title}”` });
      } catch (e) {
        if (e instanceof ApiError && e.status === 412) {
          const latest = await api<Task>(`/api/v1/tasks/${task.id}`).catch(() => null);
          if (latest) setEditing({ task: latest });
        }
        throw e;
      }
    },
    [create, list, loadTags, toasts],
  );

  const undoComplete = useCallback(
    async (task: Task) => {
      const t = await api<Task>(`/api/v1/tasks/${task.id}/reopen`, { method: "POST" });
      list.upsert(t);
      list.refresh(0);
      if (!task.series_id) return;
      // the next occurrence made for this completion goes too
      const params = new URLSearchParams({ status: "open", recurring: "true", sort: "-created", limit: "50", q: task.title });
      const page = await api<{ items: Task[] }>(`/api/v1/tasks?${params.toString()}`).catch(() => ({ items: [] as Task[] }));
      const next = page.items.find((x) => x.series_id === task.series_id && x.occurrence === task.occurrence + 1);
      if (next) await api(`/api/v1/tasks/${next.id}`, { method: "DELETE" }).catch(() => undefined);
      list.refresh(0);
    },
    [list],
  );

  const toggleDone = useCallback(
    async (task: Task) => {
      const wasDone = task.status === "done";
      list.upsert({ ...task, status: wasDone ? "open" : "done" });
      try {
        const t = await api<Task>(`/api/v1/tasks/${task.id}/${wasDone ? "reopen" : "complete"}`, { method: "POST" });
        list.upsert(t);
        list.refresh(wasDone ? 150 : 900); // a completed task stays visible (struck through) for a moment
        setEditing((e) => (e?.task?.id === t.id ? { task: t } : e));
        toasts.show({
          message: wasDone ? `Reopened “${t.title}”` : `Completed “${t.title}”${t.recurrence ? " — the next one is on its way" : ""}`,
          action: {
            label: "Undo",
            run: () =>
              void (wasDone
                ? api<Task>(`/api/v1/tasks/${t.id}/complete`, { method: "POST" }).then((x) => {
                    list.upsert(x);
                    list.refresh(0);
                  })
                : undoComplete(t)
              ).catch((e: unknown) => toasts.show({ message: `Undo failed: ${String(e)}`, tone: "error" })),
          },
        });
      } catch (e) {
        list.upsert(task);
        toasts.show({ message: e instanceof Error ? e.message : String(e), tone: "error" });
      }
    },
    [list, toasts, undoComplete],
  );

  const remove = useCallback(
    (task: Task) => {
      setHidden((h) => new Set(h).add(task.id));
      setEditing((e) => (e?.task?.id === task.id ? null : e));
      const unhide = () =>
        setHidden((h) => {
          const n = new Set(h);
          n.delete(task.id);
          return n;
        });
      toasts.show({
        message: `Deleted “${task.title}”`,
        action: { label: "Undo", run: unhide },
        onExpire: () => {
          api(`/api/v1/tasks/${task.id}`, { method: "DELETE", keepalive: true }).then(
            () => {
              list.remove(task.id);
              unhide();
              void loadTags();
            },
            (e: unknown) => {
              if (e instanceof ApiError && e.status === 404) {
                list.remove(task.id);
                return;
              }
              unhide();
              toasts.show({ message: `Could not delete “${task.title}”: ${String(e)}`, tone: "error" });
            },
          );
        },
      });
    },
    [list, loadTags, toasts],
  );

  const openNotification = useCallback(
    (n: Notification) => {
      if (!n.read_at) {
        setNotes((s) => ({
          ...s,
          items: s.items.map((x) => (x.id === n.id ? { ...x, read_at: new Date().toISOString() } : x)),
          unread_count: Math.max(0, s.unread_count - 1),
        }));
        void api(`/api/v1/notifications/${n.id}/read`, { method: "POST" }).catch(() => undefined);
      }
      if (n.task_id) void openTask(n.task_id);
    },
    [openTask],
  );

  const markAllRead = useCallback(async () => {
    await api("/api/v1/notifications/read-all", { method: "POST" }).catch(() => undefined);
    void loadNotes();
  }, [loadNotes]);

  const signOut = useCallback(async () => {
    await unsubscribePush().catch(() => undefined);
    setToken(null);
  }, []);

  const saveZone = useCallback(
    async (zone: string) => {
      const u = await api<User>("/api/v1/me", { method: "PATCH", body: { timezone: zone } });
      onUser(u);
    },
    [onUser],
  );

  const setView = (v: View) => {
    setVF((s) => ({ ...s, view: v }));
    setNavOpen(false);
  };
  const setFilters = (f: Filters) => setVF((s) => ({ ...s, filters: f }));
  const tagSuggestions = useMemo(() => tags.map((t) => t.name), [tags]);
  const titleOf = useCallback((id: string) => list.items.find((t) => t.id === id)?.title, [list.items]);
  const chatKit = useChatKitAvailability(chatOpen && chatEngine === "auto");

  return (
    <div className={`app${chatOpen ? " with-chat" : ""}`}>
      <a className="skip-link" href="#main">
        Skip to tasks
      </a>
      <header className="topbar">
        <button type="button" className="icon-button menu-button" aria-label="Menu" aria-expanded={navOpen} aria-controls="sidebar" onClick={() => setNavOpen((o) => !o)}>
          ☰
        </button>
        <span className="brand">
          <img src="/icon.svg" alt="" width={24} height={24} /> Todo Cloud
        </span>
        <span className={`live live-${live}`} title={live === "live" ? "Live updates on" : "Reconnecting…"}>
          <span className="visually-hidden">{live === "live" ? "Live updates on" : "Live updates reconnecting"}</span>
        </span>
        <span className="spacer" />
        <NotificationsBell items={notes.items} unread={notes.unread_count} userZone={tz} onOpenNotification={openNotification} onMarkAllRead={() => void markAllRead()} />
        <button type="button" className={`secondary chat-toggle${chatOpen ? " active" : ""}`} aria-expanded={chatOpen} aria-controls="chat" onClick={() => setChatOpen((o) => !o)}>
          Chat
        </button>
        <button type="button" className="icon-button" aria-label="Settings" onClick={() => setSettingsOpen(true)}>
          <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
            <path
              fill="currentColor"
              d="M19.4 13a7.5 7.5 0 0 0 0-2l2-1.6-2-3.4-2.4 1a7.4 7.4 0 0 0-1.7-1L15 3h-4l-.4 2.9a7.4 7.4 0 0 0-1.7 1l-2.4-1-2 3.4 2 1.6a7.5 7.5 0 0 0 0 2l-2 1.6 2 3.4 2.4-1a7.4 7.4 0 0 0 1.7 1L11 21h4l.4-2.9a7.4 7.4 0 0 0 1.7-1l2.4 1 2-3.4-2-1.6zM13 15.5a3.5 3.5 0 1 1 0-7 3.5 3.5 0 0 1 0 7z"
            />
          </svg>
        </button>
      </header>

      <nav id="sidebar" className={`sidebar${navOpen ? " open" : ""}`} aria-label="Views">
        <ul className="views">
          {VIEWS.map((v) => (
            <li key={v.id}>
              <button type="button" aria-current={view === v.id ? "page" : undefined} onClick={() => setView(v.id)}>
                {v.label}
              </button>
            </li>
          ))}
        </ul>
        <button type="button" className="primary wide" onClick={() => setEditing({ task: null })}>
          New task
        </button>
        {tags.length > 0 && (
          <>
            <h2 className="side-heading">Tags</h2>
            <ul className="side-tags">
              {tags.map((t) => (
                <li key={t.name}>
                  <button
                    type="button"
                    aria-pressed={filters.tags.length === 1 && filters.tags[0] === t.name}
                    onClick={() => {
                      const only = filters.tags.length === 1 && filters.tags[0] === t.name;
                      setVF((s) => ({ view: only ? s.view : "all", filters: { ...s.filters, tags: only ? [] : [t.name] } }));
                      setNavOpen(false);
                    }}
                  >
                    #{t.name} <span className="count">{t.open_count}</span>
                  </button>
                </li>
              ))}
            </ul>
          </>
        )}
      </nav>

      <main id="main" className="main" tabIndex={-1}>
        <h1>{viewTitle(view, tz, now)}</h1>
        <QuickAdd timezone={tz} parse={parse} onCreate={quickCreate} inputRef={quickRef} />
        <FilterBar view={view} filters={filters} onChange={setFilters} tags={tags} searchRef={searchRef} />
        <TaskList
          tasks={visible}
          userZone={tz}
          loading={list.loading}
          error={list.error}
          hasMore={Boolean(list.cursor)}
          onLoadMore={list.loadMore}
          onOpen={(t) => {
            openSeq.current++;
            setEditing({ task: t });
          }}
          onToggleDone={(t) => void toggleDone(t)}
          onDelete={remove}
          emptyText={filters.q ? `Nothing matches “${filters.q}”.` : EMPTY_TEXT[view]}
          selectedId={editing?.task?.id ?? null}
        />
      </main>

      {chatOpen && (
        <aside id="chat" className="chat-drawer" aria-label="Chat with the assistant">
          <button type="button" className="icon-button chat-close" aria-label="Close chat" onClick={() => setChatOpen(false)}>
            ×
          </button>
          {chatEngine === "auto" && chatKit === "ready" ? (
            <ChatKitPanel />
          ) : (
            <ChatPanel onOpenTask={(id) => void openTask(id)} titleOf={titleOf} />
          )}
        </aside>
      )}

      <Modal open={editing !== null} onClose={closeEditor} label={editing?.task ? "Edit task" : "New task"} className="editor-modal">
        {editing && (
          <TaskEditor
            key={editing.task?.id ?? "new"}
            task={editing.task}
            userZone={tz}
            tagSuggestions={tagSuggestions}
            onSave={save}
            onCancel={closeEditor}
            onToggleDone={(t) => void toggleDone(t)}
            onDelete={remove}
            onReminderAdded={askPermissionOnFirstReminder}
          />
        )}
      </Modal>

      <Modal open={settingsOpen} onClose={() => setSettingsOpen(false)} label="Settings">
        {settingsOpen && (
          <SettingsPanel
            user={user}
            onSaveZone={saveZone}
            chatEngine={chatEngine}
            onChatEngine={(e) => {
              setChatEngine(e);
              try {
                window.localStorage.setItem(CHAT_ENGINE_KEY, e);
              } catch {
                /* session only */
              }
            }}
            onSignOut={() => void signOut()}
            onClose={() => setSettingsOpen(false)}
          />
        )}
      </Modal>
    </div>
  );
}
