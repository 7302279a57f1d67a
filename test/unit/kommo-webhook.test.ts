/**
 * `parseKommoWebhook` (src/integrations/kommo/webhook.ts) on bodies in Kommo's form encoding: a
 * verbatim body as Kommo posts it, bodies made by the double's builder (dev/kommo/webhook.ts), a
 * property-based round trip between the two, and the refusals.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildKommoWebhookBody } from "../../dev/kommo/webhook";
import type { KommoWebhookPayload } from "../../src/integrations/kommo/types";
import { type KommoWebhookEvent, parseKommoWebhook } from "../../src/integrations/kommo/webhook";

const parse = (body: string) => parseKommoWebhook(new URLSearchParams(body));

describe("parseKommoWebhook", () => {
  it("reads a status change as Kommo posts it (brackets percent-encoded, nested fields, account last)", () => {
    const body =
      "leads%5Bstatus%5D%5B0%5D%5Bid%5D=10701093&leads%5Bstatus%5D%5B0%5D%5Bname%5D=%D0%A1%D0%B5%D0%BC%D0%B8%D0%BD%D0%B0%D1%80" +
      "&leads%5Bstatus%5D%5B0%5D%5Bstatus_id%5D=142&leads%5Bstatus%5D%5B0%5D%5Bold_status_id%5D=20067736" +
      "&leads%5Bstatus%5D%5B0%5D%5Bprice%5D=22500&leads%5Bstatus%5D%5B0%5D%5Bresponsible_user_id%5D=2079676" +
      "&leads%5Bstatus%5D%5B0%5D%5Blast_modified%5D=1539782664&leads%5Bstatus%5D%5B0%5D%5Bmodified_user_id%5D=2079718" +
      "&leads%5Bstatus%5D%5B0%5D%5Bpipeline_id%5D=9217056&leads%5Bstatus%5D%5B0%5D%5Btags%5D%5B0%5D%5Bid%5D=80147" +
      "&leads%5Bstatus%5D%5B0%5D%5Btags%5D%5B0%5D%5Bname%5D=repeat&leads%5Bstatus%5D%5B0%5D%5Baccount_id%5D=17769199" +
      "&leads%5Bstatus%5D%5B0%5D%5Bcustom_fields%5D%5B0%5D%5Bid%5D=66339" +
      "&account%5Bsubdomain%5D=marlennsk&account%5Bid%5D=17769199&account%5B_links%5D%5Bself%5D=https%3A%2F%2Fmarlennsk.amocrm.ru";
    expect(parse(body)).toEqual({
      ok: true,
      accountSubdomain: "marlennsk",
      accountId: 17769199,
      ignored: [],
      events: [
        {
          entity: "lead",
          action: "status",
          id: 10701093,
          accountSubdomain: "marlennsk",
          accountId: 17769199,
          name: "Семинар",
          statusId: 142,
          oldStatusId: 20067736,
          pipelineId: 9217056,
          price: 22500,
          responsibleUserId: 2079676,
          updatedAt: 1539782664,
        },
      ],
    });
  });

  it("reads several entities and actions in body order, companies included, and lists what it skips", () => {
    const body = buildKommoWebhookBody(
      {
        leads: {
          add: [{ id: 1, name: "New", status_id: 70_000_001, pipeline_id: 7_000_001, price: "" }],
          status: [
            { id: 2, status_id: 143, old_status_id: 70_000_002, pipeline_id: 7_000_001, old_pipeline_id: 7_000_002 },
            { id: 3, status_id: 142, old_status_id: 70_000_003 },
          ],
          delete: [{ id: 4, status_id: 143, pipeline_id: 7_000_001 }],
          restore: [{ id: 5 }],
        },
        contacts: {
          update: [
            { id: 991, name: "Анна Смирнова", type: "contact" },
            { id: 992, name: "ООО Ромашка", type: "company" },
          ],
        },
        account: { subdomain: "acme", id: 29_000_001 },
      },
      { fillDefaults: false },
    );
    const result = parse(`${body}&task%5Badd%5D%5B0%5D%5Bid%5D=7`);
    if (!result.ok) throw new Error(result.reason);
    const brief = result.events.map((e: KommoWebhookEvent) => `${e.entity}:${e.action}:${e.id}`);
    expect(brief).toEqual(["lead:add:1", "lead:status:2", "lead:status:3", "lead:delete:4", "contact:update:991", "company:update:992"]);
    expect(result.events[0]).not.toHaveProperty("price");
    expect(result.events[1]).toMatchObject({ statusId: 143, oldStatusId: 70_000_002, pipelineId: 7_000_001, oldPipelineId: 7_000_002 });
    expect(result.events[5]).toEqual({
      entity: "company",
      action: "update",
      id: 992,
      accountSubdomain: "acme",
      accountId: 29_000_001,
      name: "ООО Ромашка",
    });
    expect(result.ignored).toEqual(["leads[restore]", "task[add]"]);
  });

  it("round-trips every description the builder makes", () => {
    const id = fc.integer({ min: 1, max: 2 ** 40 });
    const leadAction = fc.constantFrom("add" as const, "update" as const, "status" as const, "delete" as const);
    const lead = fc.record({
      id,
      status_id: id,
      old_status_id: id,
      pipeline_id: id,
      price: fc.integer({ min: 0, max: 10 ** 9 }),
      name: fc.string(),
    });
    const contact = fc.record({ id, name: fc.string(), type: fc.constantFrom("contact" as const, "company" as const) });
    const payload = fc.record({
      leads: fc.dictionary(leadAction, fc.array(lead, { maxLength: 3 })),
      contacts: fc.dictionary(fc.constantFrom("add" as const, "update" as const, "delete" as const), fc.array(contact, { maxLength: 3 })),
      account: fc.record({ subdomain: fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?$/), id }),
    });
    fc.assert(
      fc.property(payload, (p: KommoWebhookPayload) => {
        const result = parse(buildKommoWebhookBody(p, { now: 1_790_000_000 }));
        if (!result.ok) return false;
        const expected = [
          ...Object.entries(p.leads ?? {}).flatMap(([action, leads]) =>
            (leads ?? []).map((l) => `lead:${action}:${l.id}:${l.status_id}:${l.name}`),
          ),
          ...Object.entries(p.contacts ?? {}).flatMap(([action, contacts]) =>
            (contacts ?? []).map((c) => `${c.type}:${action}:${c.id}:undefined:${c.name}`),
          ),
        ];
        const actual = result.events.map(
          (e) => `${e.entity}:${e.action}:${e.id}:${e.entity === "lead" ? e.statusId : undefined}:${e.name}`,
        );
        return (
          JSON.stringify(actual) === JSON.stringify(expected) &&
          result.accountSubdomain === p.account.subdomain &&
          result.events.every((e) => e.updatedAt === 1_790_000_000 && e.accountId === p.account.id)
        );
      }),
      { numRuns: 300 },
    );
  });

  it("fills the fields Kommo always sends unless told not to", () => {
    const body = new URLSearchParams(
      buildKommoWebhookBody({ leads: { add: [{ id: 77 }] }, account: { subdomain: "acme", id: 5 } }, { now: 1_790_000_000 }),
    );
    expect(Object.fromEntries(body)).toEqual({
      "leads[add][0][id]": "77",
      "leads[add][0][name]": "Lead #77",
      "leads[add][0][status_id]": "70000001",
      "leads[add][0][price]": "0",
      "leads[add][0][responsible_user_id]": "8000001",
      "leads[add][0][last_modified]": "1790000000",
      "leads[add][0][modified_user_id]": "8000001",
      "leads[add][0][created_user_id]": "8000001",
      "leads[add][0][date_create]": "1790000000",
      "leads[add][0][pipeline_id]": "7000001",
      "leads[add][0][account_id]": "5",
      "account[subdomain]": "acme",
      "account[id]": "5",
      "account[_links][self]": "https://acme.kommo.com",
    });
    expect(buildKommoWebhookBody({ leads: { add: [{ id: 77 }] }, account: { subdomain: "acme" } }, { fillDefaults: false })).toBe(
      "leads%5Badd%5D%5B0%5D%5Bid%5D=77&account%5Bsubdomain%5D=acme",
    );
  });

  it("refuses bodies without an account, with an event without an id, or with a key given twice", () => {
    expect(parse("leads%5Badd%5D%5B0%5D%5Bid%5D=1")).toEqual({ ok: false, reason: "account[subdomain] is missing or not a subdomain" });
    expect(parse("leads%5Badd%5D%5B0%5D%5Bid%5D=1&account%5Bsubdomain%5D=evil.io%2Fx")).toMatchObject({ ok: false });
    expect(parse("leads%5Badd%5D%5B0%5D%5Bname%5D=x&account%5Bsubdomain%5D=acme")).toEqual({
      ok: false,
      reason: "leads[add][0][id] is missing or not an id",
    });
    for (const id of ["0", "-1", "1.5", "12abc", "", "99999999999999999999"]) {
      expect(parse(`leads%5Badd%5D%5B0%5D%5Bid%5D=${id}&account%5Bsubdomain%5D=acme`)).toMatchObject({ ok: false });
    }
    expect(parse("leads%5Badd%5D%5B0%5D%5Bid%5D=1&leads%5Badd%5D%5B0%5D%5Bid%5D=2&account%5Bsubdomain%5D=acme")).toEqual({
      ok: false,
      reason: "key leads[add][0][id] given twice",
    });
    const many = Array.from({ length: 1001 }, (_, i) => `leads%5Bupdate%5D%5B${i}%5D%5Bid%5D=${i + 1}`).join("&");
    expect(parse(`${many}&account%5Bsubdomain%5D=acme`)).toEqual({ ok: false, reason: "more than 1000 events" });
    expect(parse("account%5Bsubdomain%5D=acme")).toEqual({ ok: true, accountSubdomain: "acme", events: [], ignored: [] });
  });
});
