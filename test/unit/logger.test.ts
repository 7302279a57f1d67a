import { describe, expect, it } from "vitest";
import { redact } from "../../src/core/logger";

describe("redact", () => {
  it("replaces secret-looking fields at any depth and e-mail addresses in strings", () => {
    const out = redact({
      password: "hunter2",
      nested: { accessToken: "eyJ...", Authorization: "Bearer x", list: [{ apiKey: "se_live_x" }] },
      note: "contact ivan@example.ru please",
      count: 3,
    });
    expect(out).toEqual({
      password: "[redacted]",
      nested: { accessToken: "[redacted]", Authorization: "[redacted]", list: [{ apiKey: "[redacted]" }] },
      note: "contact [email] please",
      count: 3,
    });
  });

  it("keeps errors to their name and message", () => {
    expect(redact(new TypeError("bad a@b.io"))).toEqual({ name: "TypeError", message: "bad [email]" });
  });
});
