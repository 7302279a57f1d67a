ALTER TABLE "daily_org_stats" DROP CONSTRAINT "daily_org_stats_org_id_orgs_id_fk";
--> statement-breakpoint
ALTER TABLE "daily_product_stats" DROP CONSTRAINT "daily_product_stats_org_id_orgs_id_fk";
--> statement-breakpoint
ALTER TABLE "orders" DROP CONSTRAINT "orders_org_id_orgs_id_fk";
--> statement-breakpoint
ALTER TABLE "product_period_stats" DROP CONSTRAINT "product_period_stats_org_id_orgs_id_fk";
--> statement-breakpoint
ALTER TABLE "sales" DROP CONSTRAINT "sales_org_id_orgs_id_fk";
--> statement-breakpoint
ALTER TABLE "stocks" DROP CONSTRAINT "stocks_org_id_orgs_id_fk";
--> statement-breakpoint
ALTER TABLE "warehouse_stock_stats" DROP CONSTRAINT "warehouse_stock_stats_org_id_orgs_id_fk";
