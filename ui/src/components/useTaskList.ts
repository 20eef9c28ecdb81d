"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "@/lib/api";
import type { Task, TaskPage } from "@/lib/types";

export interface TaskListState {
  items: Task[];
  cursor: string | null;
  loading: boolean;
  error: string | null;
}

/** One page (or more, with Load more) of GET /tasks for a query; refresh keeps as many rows as are shown. */
export function useTaskList(query: string) {
  const [state, setState] = useState<TaskListState>({ items: [], cursor: null, loading: true, error: null });
  const gen = useRef(0);
  const shown = useRef(0);
  shown.current = state.items.length;
  // a refresh asked for under the previous query runs with the current one
  const queryRef = useRef(query);
  queryRef.current = query;

  const fetchPage = useCallback(
    async (mode: "reset" | "refresh" | "more", cursor?: string | null) => {
      const my = ++gen.current;
      const params = new URLSearchParams(queryRef.current);
      if (mode === "refresh") params.set("limit", String(Math.min(200, Math.max(Number(params.get("limit") ?? 50), shown.current))));
      if (mode === "more" && cursor) params.set("cursor", cursor);
      if (mode !== "refresh") setState((s) => ({ ...s, loading: true, error: null, ...(mode === "reset" ? { items: [], cursor: null } : {}) }));
      try {
        const page = await api<TaskPage>(`/api/v1/tasks?${params.toString()}`);
        if (my !== gen.current) return;
        setState((s) => ({
          items: mode === "more" ? [...s.items, ...page.items.filter((t) => !s.items.some((x) => x.id === t.id))] : page.items,
          cursor: page.next_cursor,
          loading: false,
          error: null,
        }));
      } catch (e) {
        if (my !== gen.current) return;
        setState((s) => ({ ...s, loading: false, error: e instanceof Error ? e.message : String(e) }));
      }
    },
    [],
  );

  const refreshTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => {
    if (refreshTimer.current) clearTimeout(refreshTimer.current);
    refreshTimer.current = null;
    void fetchPage("reset");
  }, [query, fetchPage]);

  /** Refetch what is shown soon (several events in a burst make one request). */
  const refresh = useCallback(
    (delay = 150) => {
      if (refreshTimer.current) clearTimeout(refreshTimer.current);
      refreshTimer.current = setTimeout(() => void fetchPage("refresh"), delay);
    },
    [fetchPage],
  );
  useEffect(() => () => {
    if (refreshTimer.current) clearTimeout(refreshTimer.current);
  }, []);

  const loadMore = useCallback(() => {
    if (state.cursor) void fetchPage("more", state.cursor);
  }, [fetchPage, state.cursor]);

  /** Put a newer version of a task in place (when it is shown). */
  const upsert = useCallback((task: Task) => {
    setState((s) => {
      const i = s.items.findIndex((t) => t.id === task.id);
      if (i < 0 || (s.items[i]?.version ?? 0) > task.version) return s;
      const items = [...s.items];
      items[i] = task;
      return { ...s, items };
    });
  }, []);

  const remove = useCallback((id: string) => setState((s) => ({ ...s, items: s.items.filter((t) => t.id !== id) })), []);

  return { ...state, refresh, loadMore, upsert, remove };
}
