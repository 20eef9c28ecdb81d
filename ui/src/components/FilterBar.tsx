"use client";

import { useEffect, useId, useState } from "react";
import { EMPTY_FILTERS, type Filters, SORTS, type SortKey, type View, activeFilterCount, defaultSort } from "@/lib/query";
import { PRIORITIES, type Priority, type Tag } from "@/lib/types";

export interface FilterBarProps {
  view: View;
  filters: Filters;
  onChange: (f: Filters) => void;
  tags: Tag[];
  /** how long typing waits before searching */
  debounceMs?: number;
  searchRef?: React.Ref<HTMLInputElement>;
}

const PRIORITY_LABEL: Record<Priority, string> = { high: "High", medium: "Medium", low: "Low", none: "None" };

/** Debounced search, the filter panel (status, priority, tags, due range, overdue, no date) and sort. */
export function FilterBar({ view, filters, onChange, tags, debounceMs = 300, searchRef }: FilterBarProps) {
  const id = useId();
  const [q, setQ] = useState(filters.q);
  const [open, setOpen] = useState(false);
  const set = (patch: Partial<Filters>) => onChange({ ...filters, ...patch });

  // the search box waits for a pause in typing
  useEffect(() => {
    if (q === filters.q) return;
    const t = setTimeout(() => onChange({ ...filters, q }), debounceMs);
    return () => clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [q]);
  useEffect(() => setQ(filters.q), [filters.q]);

  const toggle = <T,>(list: T[], item: T): T[] => (list.includes(item) ? list.filter((x) => x !== item) : [...list, item]);
  const count = activeFilterCount(filters);

  return (
    <div className="filter-bar">
      <div className="filter-row">
        <div className="search">
          <label htmlFor={`${id}-q`} className="visually-hidden">
            Search tasks
          </label>
          <input
            id={`${id}-q`}
            ref={searchRef}
            type="search"
            placeholder="Search tasks  ( / )"
            value={q}
            onChange={(e) => setQ(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Escape" && q) {
                e.preventDefault();
                setQ("");
              }
            }}
          />
        </div>
        <div className="sort">
          <label htmlFor={`${id}-sort`}>Sort</label>
          <select id={`${id}-sort`} value={filters.sort ?? defaultSort(view)} onChange={(e) => set({ sort: e.target.value as SortKey })}>
            {SORTS.map((s) => (
              <option key={s.id} value={s.id}>
                {s.label}
              </option>
            ))}
          </select>
        </div>
        <button type="button" className="secondary" aria-expanded={open} aria-controls={`${id}-panel`} onClick={() => setOpen((o) => !o)}>
          Filters{count ? ` (${count})` : ""}
        </button>
      </div>

      <div id={`${id}-panel`} className="filter-panel" hidden={!open} role="group" aria-label="Filters">
        <div className="fgroup">
          <label htmlFor={`${id}-status`}>Status</label>
          <select id={`${id}-status`} value={filters.status} onChange={(e) => set({ status: e.target.value as Filters["status"] })}>
            <option value="open">Open</option>
            <option value="done">Completed</option>
            <option value="all">All</option>
          </select>
        </div>

        <fieldset className="fgroup">
          <legend>Priority</legend>
          {PRIORITIES.map((p) => (
            <label key={p} className="check">
              <input type="checkbox" checked={filters.priorities.includes(p)} onChange={() => set({ priorities: toggle(filters.priorities, p) })} />
              {PRIORITY_LABEL[p]}
            </label>
          ))}
        </fieldset>

        <fieldset className="fgroup">
          <legend>Tags</legend>
          {tags.length === 0 && <p className="hint">No tags yet.</p>}
          <div className="tag-options">
            {tags.map((t) => (
              <label key={t.name} className="check">
                <input type="checkbox" checked={filters.tags.includes(t.name)} onChange={() => set({ tags: toggle(filters.tags, t.name) })} />
                #{t.name} <span className="count">{t.open_count}</span>
              </label>
            ))}
          </div>
          {filters.tags.length > 1 && (
            <div className="row">
              <label htmlFor={`${id}-tagmode`}>Match</label>
              <select id={`${id}-tagmode`} value={filters.tagMode} onChange={(e) => set({ tagMode: e.target.value as Filters["tagMode"] })}>
                <option value="any">any of the tags</option>
                <option value="all">all of the tags</option>
              </select>
            </div>
          )}
        </fieldset>

        <fieldset className="fgroup">
          <legend>Due</legend>
          <div className="row">
            <label htmlFor={`${id}-from`}>From</label>
            <input id={`${id}-from`} type="date" value={filters.dueFrom} onChange={(e) => set({ dueFrom: e.target.value })} />
          </div>
          <div className="row">
            <label htmlFor={`${id}-to`}>To</label>
            <input id={`${id}-to`} type="date" value={filters.dueTo} onChange={(e) => set({ dueTo: e.target.value })} />
          </div>
          <label className="check">
            <input type="checkbox" checked={filters.overdue} onChange={(e) => set({ overdue: e.target.checked, noDate: e.target.checked ? false : filters.noDate })} />
            Overdue only
          </label>
          <label className="check">
            <input type="checkbox" checked={filters.noDate} onChange={(e) => set({ noDate: e.target.checked, overdue: e.target.checked ? false : filters.overdue })} />
            No due date
          </label>
          <label className="check">
            <input type="checkbox" checked={filters.recurring} onChange={(e) => set({ recurring: e.target.checked })} />
            Repeating only
          </label>
        </fieldset>

        <button type="button" className="link" onClick={() => onChange({ ...EMPTY_FILTERS, q: filters.q, sort: filters.sort })} disabled={count === 0}>
          Clear filters
        </button>
      </div>
    </div>
  );
}
