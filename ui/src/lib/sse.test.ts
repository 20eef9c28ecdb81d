import { describe, expect, it } from "vitest";
import { SseParser, readSse } from "./sse";

describe("SSE from a fetch body", () => {
  it("parses events split across chunks, skipping comments and retry lines", () => {
    const p = new SseParser();
    expect(p.push('retry: 2000\nevent: thread\ndata: {"thread_id":"t1"}\n\n: keep-alive\n\nevent: del')).toEqual([
      { event: "thread", data: '{"thread_id":"t1"}', id: undefined },
    ]);
    expect(p.push('ta\ndata: {"text":"Hi"}\r\n\r\n')).toEqual([{ event: "delta", data: '{"text":"Hi"}', id: undefined }]);
    expect(p.push("data: a\ndata: b\nid: 7")).toEqual([]);
    expect(p.flush()).toEqual([{ event: "message", data: "a\nb", id: "7" }]);
  });

  it("reads a stream to the end", async () => {
    const enc = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc.encode("event: delta\ndata: {\"text\":\"He\"}\n\nevent: delta\n"));
        c.enqueue(enc.encode('data: {"text":"llo"}\n\nevent: message\ndata: {"text":"Hello"}\n\n'));
        c.close();
      },
    });
    const events = [];
    for await (const e of readSse(body)) events.push(e.event);
    expect(events).toEqual(["delta", "delta", "message"]);
  });
});
