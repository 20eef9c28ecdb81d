"use client";

import { useCallback, useEffect, useState } from "react";
import { api, getToken, setToken } from "@/lib/api";
import type { User } from "@/lib/types";
import { AuthScreen } from "./AuthScreen";
import { ToastProvider } from "./Toasts";
import { Workspace } from "./Workspace";

/** The client app: sign in, then the workspace. Signing in or out in another tab follows here. */
export function App() {
  // undefined until the browser's storage was read (the static HTML renders the splash)
  const [token, setTokenState] = useState<string | null | undefined>(undefined);
  const [user, setUser] = useState<User | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const sync = () => setTokenState(getToken());
    sync();
    const onStorage = (e: StorageEvent) => {
      if (e.key === null || e.key === "todo.token") sync();
    };
    window.addEventListener("todo:auth", sync);
    window.addEventListener("storage", onStorage);
    return () => {
      window.removeEventListener("todo:auth", sync);
      window.removeEventListener("storage", onStorage);
    };
  }, []);

  const loadMe = useCallback(async () => {
    setError(null);
    try {
      setUser(await api<User>("/api/v1/me"));
    } catch (e) {
      if (getToken()) setError(e instanceof Error ? e.message : String(e));
    }
  }, []);

  useEffect(() => {
    setUser(null);
    if (token) void loadMe();
  }, [token, loadMe]);

  if (token === undefined) return <Splash />;
  if (!token) return <AuthScreen />;
  if (error)
    return (
      <main className="auth" id="main">
        <div className="auth-card">
          <p className="form-error" role="alert">
            Cannot load your account: {error}
          </p>
          <button type="button" className="primary" onClick={() => void loadMe()}>
            Try again
          </button>{" "}
          <button type="button" className="secondary" onClick={() => setToken(null)}>
            Sign out
          </button>
        </div>
      </main>
    );
  if (!user) return <Splash />;
  return (
    <ToastProvider>
      <Workspace user={user} onUser={setUser} />
    </ToastProvider>
  );
}

function Splash() {
  return (
    <main className="splash" id="main" aria-busy="true">
      <img src="/icon.svg" alt="" width={48} height={48} />
      <p>Loading Todo Cloud…</p>
    </main>
  );
}
