/**
 * `docs/er-diagram.md` is the diagram of the Drizzle schema as it is now (`npm run docs:er`
 * regenerates it; CI also runs `npm run docs:er -- --check`), and the rendering rules of
 * `scripts/er-diagram.ts`: keys, nullability, enums, type names and relation cardinalities.
 */
import { sql } from "drizzle-orm";
import { integer, numeric, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { describe, expect, it } from "vitest";
import { checkErDiagram, END_MARKER, mermaidType, renderErDiagram, START_MARKER, withDiagram } from "../../scripts/er-diagram";

describe("docs/er-diagram.md", () => {
  it("is the diagram of src/core/db/schema (else: npm run docs:er)", () => {
    const { upToDate } = checkErDiagram();
    expect(upToDate, "docs/er-diagram.md is stale: run `npm run docs:er` and commit it").toBe(true);
  });
});

describe("renderErDiagram", () => {
  const parents = pgTable("parents", {
    id: uuid("id").primaryKey(),
    name: text("name").notNull().unique(),
    kind: text("kind", { enum: ["a", "b"] }).notNull(),
  });
  const children = pgTable(
    "children",
    {
      parentId: uuid("parent_id")
        .notNull()
        .references(() => parents.id, { onDelete: "cascade" }),
      seq: integer("seq").notNull(),
      ownerId: uuid("owner_id").references(() => parents.id, { onDelete: "set null" }),
      amount: numeric("amount", { precision: 14, scale: 2 }),
      at: timestamp("at", { withTimezone: true }).notNull().default(sql`now()`),
    },
    (t) => [primaryKey({ columns: [t.parentId, t.seq] })],
  );
  const details = pgTable("details", {
    parentId: uuid("parent_id")
      .primaryKey()
      .references(() => parents.id),
  });
  const diagram = renderErDiagram([children, "not a table", details, parents]);

  it("lists tables by name with typed columns, keys, nullability and enum values", () => {
    expect(diagram.split("\n")[0]).toBe("erDiagram");
    expect(diagram.indexOf("  children {")).toBeLessThan(diagram.indexOf("  details {"));
    expect(diagram.indexOf("  details {")).toBeLessThan(diagram.indexOf("  parents {"));
    expect(diagram).toContain("    uuid id PK\n");
    expect(diagram).toContain("    text name UK\n");
    expect(diagram).toContain('    text kind "one of a, b"\n');
    expect(diagram).toContain("    uuid parent_id PK, FK\n    integer seq PK\n");
    expect(diagram).toContain('    uuid owner_id FK "nullable"\n');
    expect(diagram).toContain('    numeric amount "nullable"\n');
    expect(diagram).toContain("    timestamptz at\n");
  });

  it("draws each foreign key with its cardinality and on delete", () => {
    expect(diagram).toContain('  parents ||--o{ children : "parent_id (on delete cascade)"');
    expect(diagram).toContain('  parents |o--o{ children : "owner_id (on delete set null)"');
    // A foreign key that is the child's whole primary key: at most one child per parent.
    expect(diagram).toMatch(/ {2}parents \|\|--o\| details : "parent_id( \(on delete no action\))?"/);
  });

  it("writes mermaid type names as single words", () => {
    expect(mermaidType("timestamp with time zone")).toBe("timestamptz");
    expect(mermaidType("timestamp(3) with time zone")).toBe("timestamptz");
    expect(mermaidType("numeric(14, 2)")).toBe("numeric");
    expect(mermaidType("text[]")).toBe("text[]");
    expect(mermaidType("double precision")).toBe("double_precision");
  });
});

describe("withDiagram", () => {
  it("replaces only what is between the markers", () => {
    const file = `# Title\n\nintro\n\n${START_MARKER}\nold\n${END_MARKER}\n\nafter\n`;
    const out = withDiagram(file, "erDiagram\n  x {\n  }");
    expect(out.startsWith("# Title\n\nintro\n\n")).toBe(true);
    expect(out.endsWith(`${END_MARKER}\n\nafter\n`)).toBe(true);
    expect(out).toContain("```mermaid\nerDiagram\n  x {\n  }\n```");
    expect(out).not.toContain("\nold\n");
    expect(withDiagram(out, "erDiagram\n  x {\n  }")).toBe(out);
  });

  it("creates the file when missing, and refuses one without markers", () => {
    expect(withDiagram(undefined, "erDiagram")).toContain(START_MARKER);
    expect(() => withDiagram("# no markers\n", "erDiagram")).toThrow(/markers/);
  });
});
