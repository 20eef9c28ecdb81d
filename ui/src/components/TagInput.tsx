"use client";

import { useId, useMemo, useState } from "react";

export interface TagInputProps {
  value: string[];
  onChange: (tags: string[]) => void;
  suggestions: string[];
  label?: string;
  max?: number;
}

export function normaliseTag(raw: string): string {
  return raw.trim().replace(/^#/, "").replace(/\s+/g, "-").slice(0, 50);
}

/** Tags as removable chips, with a combobox that suggests the user's existing tags. */
export function TagInput({ value, onChange, suggestions, label = "Tags", max = 30 }: TagInputProps) {
  const id = useId();
  const [text, setText] = useState("");
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);

  const matches = useMemo(() => {
    const q = normaliseTag(text).toLowerCase();
    return suggestions.filter((s) => !value.includes(s) && (!q || s.toLowerCase().includes(q))).slice(0, 8);
  }, [suggestions, text, value]);

  const add = (raw: string) => {
    const tag = normaliseTag(raw);
    if (!tag || value.includes(tag) || value.length >= max) {
      setText("");
      return;
    }
    onChange([...value, tag]);
    setText("");
    setActive(0);
  };

  const showList = open && matches.length > 0;

  return (
    <div className="tag-input">
      <label htmlFor={`${id}-input`}>{label}</label>
      <div className="chips-box">
        <ul className="chips" aria-label={`${label} on this task`}>
          {value.map((t) => (
            <li key={t} className="chip">
              #{t}
              <button type="button" className="chip-remove" aria-label={`Remove tag ${t}`} onClick={() => onChange(value.filter((x) => x !== t))}>
                ×
              </button>
            </li>
          ))}
        </ul>
        <input
          id={`${id}-input`}
          role="combobox"
          aria-expanded={showList}
          aria-controls={`${id}-list`}
          aria-autocomplete="list"
          aria-activedescendant={showList ? `${id}-opt-${active}` : undefined}
          value={text}
          placeholder={value.length ? "" : "Add a tag"}
          autoComplete="off"
          onChange={(e) => {
            const v = e.target.value;
            if (v.endsWith(",") || v.endsWith(" ")) add(v.slice(0, -1));
            else {
              setText(v);
              setOpen(true);
              setActive(0);
            }
          }}
          onFocus={() => setOpen(true)}
          onBlur={() => {
            setOpen(false);
            if (text.trim()) add(text);
          }}
          onKeyDown={(e) => {
            if (e.key === "ArrowDown" && matches.length) {
              e.preventDefault();
              setOpen(true);
              setActive((a) => (a + 1) % matches.length);
            } else if (e.key === "ArrowUp" && matches.length) {
              e.preventDefault();
              setActive((a) => (a - 1 + matches.length) % matches.length);
            } else if (e.key === "Enter") {
              if (showList && matches[active] && !text.trim()) {
                e.preventDefault();
                add(matches[active]);
              } else if (text.trim()) {
                e.preventDefault();
                add(showList && matches[active] && matches[active].toLowerCase().startsWith(normaliseTag(text).toLowerCase()) ? matches[active] : text);
              }
            } else if (e.key === "Tab" && showList && text.trim() && matches[active]) {
              e.preventDefault();
              add(matches[active]);
            } else if (e.key === "Escape" && showList) {
              e.stopPropagation();
              e.preventDefault();
              setOpen(false);
            } else if (e.key === "Backspace" && !text && value.length) {
              onChange(value.slice(0, -1));
            }
          }}
        />
      </div>
      <ul id={`${id}-list`} role="listbox" aria-label={`${label} suggestions`} className="suggestions" hidden={!showList}>
        {matches.map((m, i) => (
          <li
            key={m}
            id={`${id}-opt-${i}`}
            role="option"
            aria-selected={i === active}
            onMouseDown={(e) => {
              e.preventDefault();
              add(m);
            }}
          >
            #{m}
          </li>
        ))}
      </ul>
    </div>
  );
}
