/**
 * The assistant bot's commands and fixed answers. A command is a message whose text starts with
 * `/start`, `/help` or `/reset` (optionally `@botname`, as Telegram writes commands in groups, and
 * arguments, which are ignored); any other text, including an unknown `/command`, goes to the model.
 * @see https://core.telegram.org/bots/features#commands
 */

/** The commands the assistant answers itself. */
export const assistantCommands = ["start", "help", "reset"] as const;
export type AssistantCommand = (typeof assistantCommands)[number];

/** The command `text` is, or undefined for text for the model. */
export function parseCommand(text: string): AssistantCommand | undefined {
  const match = /^\/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]+)?(?:\s|$)/.exec(text.trim());
  const name = match?.[1]?.toLowerCase();
  return assistantCommands.find((c) => c === name);
}

/** The fixed answers. */
export const assistantTexts = {
  start:
    "Hello! I am an assistant: write me a question and I will answer.\n\n" +
    "/reset — forget our conversation and start a new one\n/help — what I can do",
  help:
    "Write me a question in plain text and I will answer, keeping our recent messages in mind.\n\n" +
    "/reset — forget our conversation and start a new one\n/start — the greeting\n/help — this help",
  reset: "Done: I have forgotten our conversation. Your next message starts a new one.",
  rateLimited: "You are sending messages too quickly. Please wait a minute, then write again.",
  unsupported: "Sorry, I can read only text messages.",
} as const;
