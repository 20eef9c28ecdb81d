"use client";

import { type InputHTMLAttributes, useEffect, useState } from "react";

export interface NumberFieldProps extends Omit<InputHTMLAttributes<HTMLInputElement>, "value" | "onChange" | "type" | "min" | "max"> {
  value: number;
  onChange: (n: number) => void;
  min: number;
  max: number;
}

/** A whole-number input that may be empty while typing (so "clear, type 2" gives 2, not 12). */
export function NumberField({ value, onChange, min, max, onBlur, ...rest }: NumberFieldProps) {
  const [text, setText] = useState(String(value));
  useEffect(() => {
    setText((t) => (Number(t) === value && t !== "" ? t : String(value)));
  }, [value]);
  return (
    <input
      {...rest}
      type="number"
      inputMode="numeric"
      min={min}
      max={max}
      value={text}
      onChange={(e) => {
        setText(e.target.value);
        const n = Number(e.target.value);
        if (e.target.value !== "" && Number.isFinite(n)) onChange(Math.max(min, Math.min(max, Math.round(n))));
      }}
      onBlur={(e) => {
        setText(String(value));
        onBlur?.(e);
      }}
    />
  );
}
