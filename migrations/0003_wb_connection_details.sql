ALTER TABLE "wb_connections" ADD COLUMN "expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "wb_connections" ADD COLUMN "categories" text[];--> statement-breakpoint
ALTER TABLE "wb_connections" ADD COLUMN "connected_by" uuid;--> statement-breakpoint
ALTER TABLE "wb_connections" ADD CONSTRAINT "wb_connections_connected_by_users_id_fk" FOREIGN KEY ("connected_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;