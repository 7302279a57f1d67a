/** Where Telegram is told to deliver a bot's updates: the Worker that serves the bot's routes. */
import { describe, expect, it } from "vitest";
import { botWebhookUrl } from "../../src/telegram/bots";

const id = "0b3a6c52-52f5-4c1e-9d7e-3f1f7d0c2a11";

describe("botWebhookUrl", () => {
  it("uses the purpose's own Worker URL, else the webhooks URL, else the jobs URL (no double slash)", () => {
    const base = { PUBLIC_JOBS_URL: "https://jobs.api.example.com", PUBLIC_WEBHOOKS_URL: undefined };
    expect(
      botWebhookUrl({ ...base, PUBLIC_HELPDESK_URL: "https://helpdesk.api.example.com/", PUBLIC_ASSISTANT_URL: undefined }, "helpdesk", id),
    ).toBe(`https://helpdesk.api.example.com/webhooks/telegram/helpdesk/${id}`);
    expect(
      botWebhookUrl({ ...base, PUBLIC_HELPDESK_URL: "https://helpdesk.api.example.com", PUBLIC_ASSISTANT_URL: undefined }, "assistant", id),
    ).toBe(`https://jobs.api.example.com/webhooks/telegram/assistant/${id}`);
    expect(
      botWebhookUrl(
        {
          ...base,
          PUBLIC_WEBHOOKS_URL: "https://hooks.example.com",
          PUBLIC_HELPDESK_URL: undefined,
          PUBLIC_ASSISTANT_URL: "https://bot.example.com",
        },
        "assistant",
        id,
      ),
    ).toBe(`https://bot.example.com/webhooks/telegram/assistant/${id}`);
    expect(
      botWebhookUrl(
        { ...base, PUBLIC_WEBHOOKS_URL: "https://hooks.example.com", PUBLIC_HELPDESK_URL: undefined, PUBLIC_ASSISTANT_URL: undefined },
        "helpdesk",
        id,
      ),
    ).toBe(`https://hooks.example.com/webhooks/telegram/helpdesk/${id}`);
  });
});
