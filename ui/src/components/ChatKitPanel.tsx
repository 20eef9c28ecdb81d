"use client";

import { ChatKit, useChatKit } from "@openai/chatkit-react";
import { useEffect, useState } from "react";
import { API_BASE, authHeaders } from "@/lib/api";

// ChatKit's web component comes from OpenAI's CDN (a deployment may point elsewhere, or set it empty
// to never try). The app uses it only once the script has loaded and defined <openai-chatkit>;
// until then, and when it cannot load (offline, blocked networks), the built-in panel is used.
export const CHATKIT_SCRIPT: string =
  process.env.NEXT_PUBLIC_CHATKIT_SCRIPT ?? "https://cdn.platform.openai.com/deployments/chatkit/chatkit.js";
const DOMAIN_KEY: string = process.env.NEXT_PUBLIC_CHATKIT_DOMAIN_KEY ?? "local-dev";

export type ChatKitState = "idle" | "loading" | "ready" | "unavailable";

let loading: Promise<boolean> | null = null;

/** Loads the ChatKit script once; true when <openai-chatkit> got defined within the time allowed. */
export function loadChatKit(timeoutMs = 8000): Promise<boolean> {
  if (typeof window === "undefined" || !CHATKIT_SCRIPT) return Promise.resolve(false);
  if (customElements.get("openai-chatkit")) return Promise.resolve(true);
  loading ??= new Promise<boolean>((resolve) => {
    const script = document.createElement("script");
    script.src = CHATKIT_SCRIPT;
    script.async = true;
    const timer = setTimeout(() => resolve(false), timeoutMs);
    script.onerror = () => {
      clearTimeout(timer);
      resolve(false);
    };
    script.onload = () => {
      customElements.whenDefined("openai-chatkit").then(() => {
        clearTimeout(timer);
        resolve(true);
      }, () => resolve(false));
    };
    document.head.appendChild(script);
  });
  return loading;
}

export function useChatKitAvailability(enabled: boolean): ChatKitState {
  const [state, setState] = useState<ChatKitState>("idle");
  useEffect(() => {
    if (!enabled) return;
    let live = true;
    setState("loading");
    void loadChatKit().then((ok) => live && setState(ok ? "ready" : "unavailable"));
    return () => {
      live = false;
    };
  }, [enabled]);
  return state;
}

/** ChatKit against this gateway's /chatkit, with the user's bearer token. */
export function ChatKitPanel() {
  const { control } = useChatKit({
    api: {
      url: `${API_BASE}/chatkit`,
      domainKey: DOMAIN_KEY,
      fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string> | undefined), ...authHeaders() } }),
    },
    header: { enabled: true },
    history: { enabled: true },
  });
  return <ChatKit control={control} className="chatkit" />;
}
