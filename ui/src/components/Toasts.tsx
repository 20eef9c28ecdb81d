"use client";

import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";

export interface Toast {
  id: number;
  message: string;
  action?: { label: string; run: () => void };
  /** runs when the toast goes away without its action (e.g. the delete really happens) */
  onExpire?: () => void;
  tone?: "info" | "error";
}

interface ToastApi {
  show: (t: Omit<Toast, "id">, ms?: number) => number;
  dismiss: (id: number) => void;
}

const Ctx = createContext<ToastApi>({ show: () => 0, dismiss: () => {} });
export const useToasts = (): ToastApi => useContext(Ctx);

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const timers = useRef(new Map<number, ReturnType<typeof setTimeout>>());
  const all = useRef(new Map<number, Toast>());
  const next = useRef(1);

  const remove = useCallback((id: number, expired: boolean) => {
    const t = all.current.get(id);
    all.current.delete(id);
    const timer = timers.current.get(id);
    if (timer) clearTimeout(timer);
    timers.current.delete(id);
    setToasts((ts) => ts.filter((x) => x.id !== id));
    if (expired) t?.onExpire?.();
  }, []);

  const show = useCallback(
    (t: Omit<Toast, "id">, ms = t.action || t.onExpire ? 6000 : 3500) => {
      const id = next.current++;
      const toast = { ...t, id };
      all.current.set(id, toast);
      setToasts((ts) => [...ts.slice(-2), toast]);
      timers.current.set(id, setTimeout(() => remove(id, true), ms));
      return id;
    },
    [remove],
  );

  // leaving the page: whatever was waiting for its toast to expire happens now
  useEffect(() => {
    const flush = () => {
      for (const id of [...all.current.keys()]) remove(id, true);
    };
    window.addEventListener("pagehide", flush);
    return () => window.removeEventListener("pagehide", flush);
  }, [remove]);

  const api = useMemo<ToastApi>(() => ({ show, dismiss: (id) => remove(id, true) }), [show, remove]);

  return (
    <Ctx.Provider value={api}>
      {children}
      <div className="toasts" role="region" aria-label="Notifications from the app" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className={`toast ${t.tone ?? "info"}`} role={t.tone === "error" ? "alert" : "status"}>
            <span>{t.message}</span>
            {t.action && (
              <button
                type="button"
                className="link"
                onClick={() => {
                  const run = t.action?.run;
                  remove(t.id, false);
                  run?.();
                }}
              >
                {t.action.label}
              </button>
            )}
            <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => remove(t.id, true)}>
              ×
            </button>
          </div>
        ))}
      </div>
    </Ctx.Provider>
  );
}
