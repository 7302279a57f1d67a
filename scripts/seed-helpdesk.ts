/**
 * Seeds the demo org's support bot for `npm run dev`: the bot on the local Telegram double, its row
 * (token encrypted with `ENCRYPTION_KEY`, the webhook secret stored as its SHA-256, as
 * `registerBot` stores them), its webhook pointed at the dev Worker with `setWebhook`, and — once —
 * three clients with tickets in different states. Idempotent: re-running keeps one bot and its
 * tickets; the double (in memory) learns the bot, its webhook and the clients' chats again.
 *
 * The webhook secret is derived from `ENCRYPTION_KEY` (kept in the data dir), so it is the same at
 * every start and a cached bot in Redis never holds a stale secret.
 */
import { and, eq, isNull } from "drizzle-orm";
import type { TelegramDouble } from "../dev/telegram/server";
import { encryptSecret, sha256Hex } from "../src/core/crypto";
import { createDatabase } from "../src/core/db/client";
import { helpdeskClients, helpdeskMessages, helpdeskSessions, helpdeskTickets, telegramBots } from "../src/core/db/schema";
import { ALLOWED_UPDATES } from "../src/telegram/bots";

/** The demo support bot's token on the Telegram double. */
export const DEMO_SUPPORT_BOT_TOKEN = "7000000042:demo-support-bot-token-for-local-dev";

/** The demo client a `curl` of the dev banner writes as. */
export const DEMO_CLIENT = { id: 5_550_001, first_name: "Anna", username: "anna_demo" } as const;

/** What the banner needs to show the flow. */
export interface DemoSupportBot {
  botId: string;
  token: string;
  username: string;
  /** A ready `curl` that makes the demo client write to the bot (through the double and the webhook). */
  curl: string;
  /** A `curl` that shows what the bot answered the demo client. */
  answers: string;
}

const seededClients = [
  {
    id: 5_550_101,
    first_name: "Boris",
    username: "boris_demo",
    category: "Delivery",
    subject: "Where is my order 4421? It was due on Monday.",
  },
  {
    id: 5_550_102,
    first_name: "Vera",
    username: "vera_demo",
    category: "Return",
    subject: "Wrong size delivered, I need a 42 instead of a 44.",
  },
  { id: 5_550_103, first_name: "Gleb", username: "gleb_demo", category: "Product question", subject: "Is the jacket waterproof?" },
] as const;

/**
 * Registers the demo support bot of `orgId` and seeds its tickets (see the module comment).
 * @param workerUrl the dev Worker, where the double delivers the bot's updates.
 */
export async function seedDemoHelpdesk(
  env: { DATABASE_URL: string; NEON_FETCH_ENDPOINT?: string; ENCRYPTION_KEY: string },
  demo: { orgId: string; userId: string },
  telegram: TelegramDouble,
  workerUrl: string,
): Promise<DemoSupportBot> {
  const db = createDatabase(env);
  const token = DEMO_SUPPORT_BOT_TOKEN;
  const me = telegram.addBot({ token, username: "demo_support_bot", firstName: "Demo support" });
  const secret = (await sha256Hex(`demo-support-bot-webhook:${env.ENCRYPTION_KEY}`)).slice(0, 48);
  const values = {
    telegramId: me.id,
    username: me.username,
    tokenCiphertext: await encryptSecret(token, env.ENCRYPTION_KEY),
    webhookSecretHash: await sha256Hex(secret),
  };
  const [existing] = await db
    .select({ id: telegramBots.id })
    .from(telegramBots)
    .where(and(eq(telegramBots.orgId, demo.orgId), eq(telegramBots.purpose, "helpdesk"), isNull(telegramBots.disabledAt)));
  let botId = existing?.id;
  if (botId) await db.update(telegramBots).set(values).where(eq(telegramBots.id, botId));
  else {
    const [row] = await db
      .insert(telegramBots)
      .values({ orgId: demo.orgId, purpose: "helpdesk", createdBy: demo.userId, ...values })
      .returning({ id: telegramBots.id });
    botId = row?.id as string;
  }
  const res = await fetch(`${telegram.url}/bot${token}/setWebhook`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      url: `${workerUrl}/webhooks/telegram/helpdesk/${botId}`,
      secret_token: secret,
      allowed_updates: ALLOWED_UPDATES,
    }),
  });
  if (!res.ok) throw new Error(`setWebhook of the demo support bot failed: ${res.status} ${await res.text()}`);

  for (const c of [DEMO_CLIENT, ...seededClients])
    telegram.addChat(token, { id: c.id, type: "private", first_name: c.first_name, username: c.username });
  const [anyClient] = await db.select({ id: helpdeskClients.id }).from(helpdeskClients).where(eq(helpdeskClients.botId, botId)).limit(1);
  if (!anyClient) await seedTickets(db, demo, botId);

  const update = {
    message: { from: { ...DEMO_CLIENT, is_bot: false }, chat: { ...DEMO_CLIENT, type: "private" }, text: "Hello! Where is my parcel?" },
  };
  return {
    botId,
    token,
    username: me.username,
    curl: `curl -s ${telegram.url}/__control/updates -H 'Content-Type: application/json' -d '${JSON.stringify({ token, update })}'`,
    answers: `curl -s '${telegram.url}/__control/messages?token=${token}&chat_id=${DEMO_CLIENT.id}'`,
  };
}

/** Three clients with an open, a pending (answered) and a resolved ticket. */
async function seedTickets(db: ReturnType<typeof createDatabase>, demo: { orgId: string; userId: string }, botId: string) {
  const statuses = ["open", "pending", "resolved"] as const;
  for (const [i, c] of seededClients.entries()) {
    const [client] = await db
      .insert(helpdeskClients)
      .values({ orgId: demo.orgId, botId, telegramUserId: c.id, chatId: c.id, username: c.username, firstName: c.first_name })
      .returning({ id: helpdeskClients.id });
    const clientId = client?.id as string;
    const ticketId = crypto.randomUUID();
    const status = statuses[i] ?? "open";
    const answered = status !== "open";
    const minutesAgo = 90 * (i + 1);
    const at = (offset: number) => new Date(Date.now() - (minutesAgo - offset) * 60_000).toISOString();
    await db.batch([
      db.insert(helpdeskSessions).values({ clientId }),
      db.insert(helpdeskTickets).values({
        id: ticketId,
        orgId: demo.orgId,
        clientId,
        category: c.category,
        subject: c.subject,
        status,
        priority: i === 0 ? "high" : "normal",
        assigneeId: answered ? demo.userId : null,
        createdAt: at(0),
        updatedAt: at(answered ? 20 : 0),
        lastMessageAt: at(answered ? 20 : 0),
        firstResponseAt: answered ? at(20) : null,
        resolvedAt: status === "resolved" ? at(30) : null,
      }),
      db.insert(helpdeskMessages).values({ ticketId, orgId: demo.orgId, author: "client", text: c.subject, createdAt: at(0) }),
      ...(answered
        ? [
            db.insert(helpdeskMessages).values({
              ticketId,
              orgId: demo.orgId,
              author: "manager",
              authorUserId: demo.userId,
              text: "Thank you for writing! We are checking it and will come back to you here.",
              createdAt: at(20),
              deliveredAt: at(20),
            }),
          ]
        : []),
    ]);
  }
}
