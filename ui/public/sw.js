/* Todo Cloud service worker: shows Web Push reminders and opens the task when one is clicked. */
/* eslint-env serviceworker */
"use strict";

self.addEventListener("install", () => {
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

// Payload of the reminder_fire function: {type, notification_id, title, body, task_id, url, late, tag}
self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = { title: event.data ? event.data.text() : "Todo Cloud" };
  }
  const title = data.title || "Todo Cloud";
  const tag = data.tag || (data.notification_id ? "notification-" + data.notification_id : "todo-cloud");
  event.waitUntil(
    self.registration.showNotification(title, {
      body: (data.late ? "(late) " : "") + (data.body || ""),
      tag: tag,
      icon: "/icon.svg",
      data: { url: data.url || (data.task_id ? "/?task=" + data.task_id : "/"), task_id: data.task_id || null },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  const url = new URL(data.url || "/", self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((clients) => {
      for (const client of clients) {
        if (new URL(client.url).origin === self.location.origin && "focus" in client) {
          client.postMessage({ type: "open-task", task_id: data.task_id || null });
          return client.focus();
        }
      }
      return self.clients.openWindow(url);
    }),
  );
});
