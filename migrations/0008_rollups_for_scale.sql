CREATE TABLE "product_period_stats" (
	"org_id" uuid NOT NULL,
	"as_of" date NOT NULL,
	"period" text NOT NULL,
	"nm_id" bigint NOT NULL,
	"orders_count" integer NOT NULL,
	"orders_amount" numeric(16, 2) NOT NULL,
	CONSTRAINT "product_period_stats_org_id_as_of_period_nm_id_pk" PRIMARY KEY("org_id","as_of","period","nm_id")
);
--> statement-breakpoint
CREATE TABLE "warehouse_stock_stats" (
	"org_id" uuid NOT NULL,
	"warehouse_name" text NOT NULL,
	"stock_rows" integer NOT NULL,
	"product_count" integer NOT NULL,
	"total_quantity" bigint NOT NULL,
	CONSTRAINT "warehouse_stock_stats_org_id_warehouse_name_pk" PRIMARY KEY("org_id","warehouse_name")
);
--> statement-breakpoint
ALTER TABLE "product_period_stats" ADD CONSTRAINT "product_period_stats_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "warehouse_stock_stats" ADD CONSTRAINT "warehouse_stock_stats_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "product_period_stats_top_idx" ON "product_period_stats" USING btree ("org_id","as_of","period","orders_amount" DESC NULLS LAST,"nm_id");--> statement-breakpoint
CREATE INDEX "daily_product_stats_org_nm_day_idx" ON "daily_product_stats" USING btree ("org_id","nm_id","day");--> statement-breakpoint
-- Backfill from the stock rows; from now on the sync recomputes it. (product_period_stats needs no
-- backfill: until the next sync recomputes it, top products fall back to the daily rollup.)
INSERT INTO "warehouse_stock_stats" ("org_id", "warehouse_name", "stock_rows", "product_count", "total_quantity")
SELECT "org_id", "warehouse_name", count(*), count(DISTINCT "nm_id") FILTER (WHERE "quantity" > 0), sum("quantity")
FROM "stocks" GROUP BY "org_id", "warehouse_name";
