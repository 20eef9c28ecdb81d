"use client";

import { type FormEvent, useId, useState } from "react";
import { ApiError, api, setToken } from "@/lib/api";
import { browserZone } from "@/lib/time";

/** Sign in, or create an account (the time zone defaults to this device's). */
export function AuthScreen() {
  const id = useId();
  const [mode, setMode] = useState<"signin" | "register">("signin");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      if (mode === "register") {
        const out = await api<{ access_token: string }>("/api/v1/auth/register", {
          method: "POST",
          anonymous: true,
          body: { email, password, timezone: browserZone() },
        });
        setToken(out.access_token);
      } else {
        const out = await api<{ access_token: string }>("/api/v1/auth/login", { method: "POST", anonymous: true, body: { email, password } });
        setToken(out.access_token);
      }
    } catch (err) {
      setError(err instanceof ApiError ? err.message : "Cannot reach the server. Try again in a moment.");
    } finally {
      setBusy(false);
    }
  };

  const title = mode === "signin" ? "Sign in" : "Create your account";
  return (
    <main className="auth" id="main">
      <div className="auth-card">
        <p className="brand">
          <img src="/icon.svg" alt="" width={32} height={32} /> Todo Cloud
        </p>
        <h1>{title}</h1>
        <form onSubmit={submit} noValidate aria-label={title}>
          {error && (
            <p className="form-error" role="alert">
              {error}
            </p>
          )}
          <div className="field">
            <label htmlFor={`${id}-email`}>Email</label>
            <input id={`${id}-email`} type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor={`${id}-password`}>Password</label>
            <input
              id={`${id}-password`}
              type="password"
              autoComplete={mode === "signin" ? "current-password" : "new-password"}
              required
              minLength={mode === "register" ? 8 : undefined}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
            {mode === "register" && <p className="hint">At least 8 characters. Your time zone: {browserZone()} (change it later in Settings).</p>}
          </div>
          <button type="submit" className="primary wide" disabled={busy}>
            {busy ? "…" : mode === "signin" ? "Sign in" : "Create account"}
          </button>
        </form>
        <p className="switch">
          {mode === "signin" ? "New here?" : "Have an account?"}{" "}
          <button
            type="button"
            className="link"
            onClick={() => {
              setMode(mode === "signin" ? "register" : "signin");
              setError(null);
            }}
          >
            {mode === "signin" ? "Create an account" : "Sign in"}
          </button>
        </p>
      </div>
    </main>
  );
}
