CREATE TABLE "daily_org_stats" (
	"org_id" uuid NOT NULL,
	"day" date NOT NULL,
	"orders_count" integer DEFAULT 0 NOT NULL,
	"orders_amount" numeric(14, 2) DEFAULT 0 NOT NULL,
	"cancellations_count" integer DEFAULT 0 NOT NULL,
	"cancellations_amount" numeric(14, 2) DEFAULT 0 NOT NULL,
	"buyouts_count" integer DEFAULT 0 NOT NULL,
	"buyouts_amount" numeric(14, 2) DEFAULT 0 NOT NULL,
	"returns_count" integer DEFAULT 0 NOT NULL,
	"returns_amount" numeric(14, 2) DEFAULT 0 NOT NULL,
	"payout" numeric(14, 2) DEFAULT 0 NOT NULL,
	CONSTRAINT "daily_org_stats_org_id_day_pk" PRIMARY KEY("org_id","day")
);
--> statement-breakpoint
ALTER TABLE "daily_org_stats" ADD CONSTRAINT "daily_org_stats_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
-- Backfill from the per-product rollup the sync keeps; from now on the sync recomputes both.
INSERT INTO "daily_org_stats" ("org_id", "day", "orders_count", "orders_amount", "cancellations_count", "cancellations_amount",
  "buyouts_count", "buyouts_amount", "returns_count", "returns_amount", "payout")
SELECT "org_id", "day", sum("orders_count"), sum("orders_amount"), sum("cancellations_count"), sum("cancellations_amount"),
  sum("buyouts_count"), sum("buyouts_amount"), sum("returns_count"), sum("returns_amount"), sum("payout")
FROM "daily_product_stats" GROUP BY "org_id", "day";
