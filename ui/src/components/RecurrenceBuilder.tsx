"use client";

import { useId } from "react";
import {
  type Freq,
  type MonthlyMode,
  type RecurrenceModel,
  type Weekday,
  WEEKDAYS,
  WEEKDAY_NAMES,
  defaultModel,
  describe,
  toRRule,
  validateRRule,
} from "@/lib/rrule";
import type { Anchor } from "@/lib/types";
import { NumberField } from "./NumberField";

export interface RecurrenceBuilderProps {
  value: RecurrenceModel;
  onChange: (m: RecurrenceModel) => void;
  anchor: Anchor;
  onAnchorChange: (a: Anchor) => void;
  /** the task's due date (YYYY-MM-DD), to start new rules from; recurring tasks need one */
  dueDate: string | null;
  error?: string;
}

const FREQ_LABELS: { id: Freq; label: string }[] = [
  { id: "none", label: "Does not repeat" },
  { id: "daily", label: "Daily" },
  { id: "weekly", label: "Weekly" },
  { id: "monthly", label: "Monthly" },
  { id: "yearly", label: "Yearly" },
  { id: "custom", label: "Custom rule (RRULE)" },
];

const UNIT: Record<Freq, string> = { none: "", daily: "day", weekly: "week", monthly: "month", yearly: "year", custom: "" };

export function RecurrenceBuilder({ value, onChange, anchor, onAnchorChange, dueDate, error }: RecurrenceBuilderProps) {
  const id = useId();
  const m = value;
  const set = (patch: Partial<RecurrenceModel>) => onChange({ ...m, ...patch });
  const customError = m.freq === "custom" && m.custom.trim() ? validateRRule(m.custom) : null;
  const rrule = toRRule(m);

  const changeFreq = (freq: Freq) => {
    if (freq === "custom") {
      onChange({ ...m, freq, custom: m.custom || toRRule(m) || "FREQ=DAILY" });
    } else if (m.freq === "none" || m.freq === "custom") {
      onChange({ ...defaultModel(freq, dueDate ?? undefined), count: m.count });
    } else {
      onChange({ ...m, freq });
    }
  };

  const toggleDay = (d: Weekday) => {
    const days = m.days.includes(d) ? m.days.filter((x) => x !== d) : [...m.days, d];
    set({ days: days.length ? days : m.days });
  };

  return (
    <fieldset className="recurrence" aria-describedby={`${id}-summary`}>
      <legend>Repeat</legend>
      <div className="row">
        <label htmlFor={`${id}-freq`}>Repeats</label>
        <select id={`${id}-freq`} value={m.freq} onChange={(e) => changeFreq(e.target.value as Freq)}>
          {FREQ_LABELS.map((f) => (
            <option key={f.id} value={f.id}>
              {f.label}
            </option>
          ))}
        </select>
      </div>

      {m.freq !== "none" && m.freq !== "custom" && (
        <div className="row">
          <label htmlFor={`${id}-interval`}>Every</label>
          <NumberField id={`${id}-interval`} min={1} max={999} value={m.interval} onChange={(interval) => set({ interval })} className="narrow" />
          <span>{UNIT[m.freq]}(s)</span>
        </div>
      )}

      {m.freq === "weekly" && (
        <fieldset className="weekdays">
          <legend>On days</legend>
          {WEEKDAYS.map((d) => (
            <label key={d} className="day-toggle">
              <input type="checkbox" checked={m.days.includes(d)} onChange={() => toggleDay(d)} aria-label={WEEKDAY_NAMES[d]} />
              <span aria-hidden="true">{WEEKDAY_NAMES[d].slice(0, 2)}</span>
            </label>
          ))}
        </fieldset>
      )}

      {m.freq === "monthly" && (
        <fieldset className="monthly">
          <legend>On</legend>
          <label className="radio">
            <input
              type="radio"
              name={`${id}-monthly`}
              checked={m.monthlyMode === "day"}
              onChange={() => set({ monthlyMode: "day" as MonthlyMode })}
            />
            Day of the month
          </label>
          {m.monthlyMode === "day" && (
            <NumberField min={1} max={31} aria-label="Day (1–31)" value={m.monthDay} onChange={(monthDay) => set({ monthDay })} className="narrow" />
          )}
          <label className="radio">
            <input type="radio" name={`${id}-monthly`} checked={m.monthlyMode === "nth"} onChange={() => set({ monthlyMode: "nth" })} />
            A weekday of the month
          </label>
          {m.monthlyMode === "nth" && (
            <span className="inline">
              <select aria-label="Which week" value={m.nth} onChange={(e) => set({ nth: Number(e.target.value) })}>
                <option value={1}>First</option>
                <option value={2}>Second</option>
                <option value={3}>Third</option>
                <option value={4}>Fourth</option>
                <option value={-1}>Last</option>
              </select>
              <select aria-label="Weekday" value={m.nthWeekday} onChange={(e) => set({ nthWeekday: e.target.value as Weekday })}>
                {WEEKDAYS.map((d) => (
                  <option key={d} value={d}>
                    {WEEKDAY_NAMES[d]}
                  </option>
                ))}
              </select>
            </span>
          )}
          <label className="radio">
            <input type="radio" name={`${id}-monthly`} checked={m.monthlyMode === "last"} onChange={() => set({ monthlyMode: "last" })} />
            The last day of the month
          </label>
        </fieldset>
      )}

      {m.freq === "custom" && (
        <div className="row column">
          <label htmlFor={`${id}-custom`}>RRULE (RFC 5545)</label>
          <input
            id={`${id}-custom`}
            value={m.custom}
            spellCheck={false}
            placeholder="FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"
            aria-invalid={customError ? true : undefined}
            aria-describedby={customError ? `${id}-custom-error` : undefined}
            onChange={(e) => set({ custom: e.target.value })}
          />
          {customError && (
            <p id={`${id}-custom-error`} className="field-error">
              {customError}
            </p>
          )}
        </div>
      )}

      {m.freq !== "none" && m.freq !== "custom" && (
        <div className="row">
          <label htmlFor={`${id}-count`}>Ends</label>
          <select
            id={`${id}-count`}
            value={m.count ? "count" : "never"}
            onChange={(e) => set({ count: e.target.value === "count" ? m.count || 10 : null })}
          >
            <option value="never">Never</option>
            <option value="count">After a number of times</option>
          </select>
          {m.count !== null && (
            <NumberField min={1} max={999} aria-label="Number of times" value={m.count} onChange={(count) => set({ count })} className="narrow" />
          )}
        </div>
      )}

      {m.freq !== "none" && (
        <label className="check">
          <input
            type="checkbox"
            checked={anchor === "completion"}
            onChange={(e) => onAnchorChange(e.target.checked ? "completion" : "schedule")}
          />
          Count from when I complete it
        </label>
      )}

      <p id={`${id}-summary`} className="hint" aria-live="polite">
        {describe(m)}
        {anchor === "completion" && m.freq !== "none" ? ", after completion" : ""}
        {rrule && m.freq !== "custom" ? <code className="rrule">{rrule}</code> : null}
      </p>
      {m.freq !== "none" && !dueDate && <p className="field-error">A repeating task needs a due date.</p>}
      {error && <p className="field-error" role="alert">{error}</p>}
    </fieldset>
  );
}
