CREATE TABLE "api_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" uuid NOT NULL,
	"name" text NOT NULL,
	"prefix" text NOT NULL,
	"key_hash" text NOT NULL,
	"scopes" text[] NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_keys_key_hash_unique" UNIQUE("key_hash")
);
--> statement-breakpoint
CREATE TABLE "refresh_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"family_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"org_id" uuid NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"rotated_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "refresh_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "memberships" (
	"org_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"role" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "memberships_org_id_user_id_pk" PRIMARY KEY("org_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "orgs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"email" text NOT NULL,
	"password_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_email_unique" UNIQUE("email")
);
--> statement-breakpoint
CREATE TABLE "wb_connections" (
	"org_id" uuid PRIMARY KEY NOT NULL,
	"token_ciphertext" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "dead_letters" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"job_id" uuid,
	"org_id" uuid,
	"kind" text NOT NULL,
	"qstash_message_id" text NOT NULL,
	"destination" text NOT NULL,
	"payload" jsonb NOT NULL,
	"last_status" integer,
	"last_response" text,
	"retried" integer DEFAULT 0 NOT NULL,
	"failed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"replayed_at" timestamp with time zone,
	CONSTRAINT "dead_letters_qstash_message_id_unique" UNIQUE("qstash_message_id")
);
--> statement-breakpoint
CREATE TABLE "jobs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"dedup_id" text NOT NULL,
	"payload" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"lease_until" timestamp with time zone,
	"last_error" text,
	"qstash_message_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	CONSTRAINT "jobs_dedup_id_unique" UNIQUE("dedup_id")
);
--> statement-breakpoint
CREATE TABLE "sync_state" (
	"org_id" uuid NOT NULL,
	"dataset" text NOT NULL,
	"cursor" text,
	"last_run_at" timestamp with time zone,
	"last_success_at" timestamp with time zone,
	"last_run_rows" integer DEFAULT 0 NOT NULL,
	"total_rows" bigint DEFAULT 0 NOT NULL,
	"last_error" text,
	CONSTRAINT "sync_state_org_id_dataset_pk" PRIMARY KEY("org_id","dataset")
);
--> statement-breakpoint
CREATE TABLE "daily_product_stats" (
	"org_id" uuid NOT NULL,
	"day" date NOT NULL,
	"nm_id" bigint NOT NULL,
	"orders_count" integer DEFAULT 0 NOT NULL,
	"orders_amount" numeric(14, 2) DEFAULT 0 NOT NULL,
	"cancellations_count" integer DEFAULT 0 NOT NULL,
	"cancellations_amount" numeric(14, 2) DEFAULT 0 NOT NULL,
	"buyouts_count" integer DEFAULT 0 NOT NULL,
	"buyouts_amount" numeric(14, 2) DEFAULT 0 NOT NULL,
	"returns_count" integer DEFAULT 0 NOT NULL,
	"returns_amount" numeric(14, 2) DEFAULT 0 NOT NULL,
	"payout" numeric(14, 2) DEFAULT 0 NOT NULL,
	CONSTRAINT "daily_product_stats_org_id_day_nm_id_pk" PRIMARY KEY("org_id","day","nm_id")
);
--> statement-breakpoint
CREATE TABLE "orders" (
	"org_id" uuid NOT NULL,
	"srid" text NOT NULL,
	"g_number" text NOT NULL,
	"date" timestamp with time zone NOT NULL,
	"last_change_date" timestamp with time zone NOT NULL,
	"nm_id" bigint NOT NULL,
	"barcode" text NOT NULL,
	"supplier_article" text NOT NULL,
	"tech_size" text NOT NULL,
	"warehouse_name" text NOT NULL,
	"region_name" text,
	"total_price" numeric(14, 2) NOT NULL,
	"discount_percent" integer NOT NULL,
	"spp" numeric(14, 2) NOT NULL,
	"finished_price" numeric(14, 2) NOT NULL,
	"price_with_disc" numeric(14, 2) NOT NULL,
	"is_cancel" boolean NOT NULL,
	"cancel_date" timestamp with time zone,
	CONSTRAINT "orders_org_id_srid_pk" PRIMARY KEY("org_id","srid")
);
--> statement-breakpoint
CREATE TABLE "products" (
	"org_id" uuid NOT NULL,
	"nm_id" bigint NOT NULL,
	"supplier_article" text NOT NULL,
	"name" text NOT NULL,
	"brand" text NOT NULL,
	"subject" text NOT NULL,
	"category" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "products_org_id_nm_id_pk" PRIMARY KEY("org_id","nm_id")
);
--> statement-breakpoint
CREATE TABLE "sales" (
	"org_id" uuid NOT NULL,
	"sale_id" text NOT NULL,
	"kind" text NOT NULL,
	"srid" text NOT NULL,
	"date" timestamp with time zone NOT NULL,
	"last_change_date" timestamp with time zone NOT NULL,
	"nm_id" bigint NOT NULL,
	"barcode" text NOT NULL,
	"supplier_article" text NOT NULL,
	"tech_size" text NOT NULL,
	"warehouse_name" text NOT NULL,
	"total_price" numeric(14, 2) NOT NULL,
	"price_with_disc" numeric(14, 2) NOT NULL,
	"finished_price" numeric(14, 2) NOT NULL,
	"for_pay" numeric(14, 2) NOT NULL,
	CONSTRAINT "sales_org_id_sale_id_pk" PRIMARY KEY("org_id","sale_id")
);
--> statement-breakpoint
CREATE TABLE "stocks" (
	"org_id" uuid NOT NULL,
	"nm_id" bigint NOT NULL,
	"barcode" text NOT NULL,
	"warehouse_name" text NOT NULL,
	"supplier_article" text NOT NULL,
	"tech_size" text NOT NULL,
	"quantity" integer NOT NULL,
	"in_way_to_client" integer NOT NULL,
	"in_way_from_client" integer NOT NULL,
	"quantity_full" integer NOT NULL,
	"price" numeric(14, 2) NOT NULL,
	"discount" integer NOT NULL,
	"last_change_date" timestamp with time zone NOT NULL,
	CONSTRAINT "stocks_org_id_nm_id_barcode_warehouse_name_pk" PRIMARY KEY("org_id","nm_id","barcode","warehouse_name")
);
--> statement-breakpoint
CREATE TABLE "warehouses" (
	"org_id" uuid NOT NULL,
	"name" text NOT NULL,
	"type" text,
	CONSTRAINT "warehouses_org_id_name_pk" PRIMARY KEY("org_id","name")
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "refresh_tokens" ADD CONSTRAINT "refresh_tokens_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "refresh_tokens" ADD CONSTRAINT "refresh_tokens_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "memberships" ADD CONSTRAINT "memberships_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "memberships" ADD CONSTRAINT "memberships_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "wb_connections" ADD CONSTRAINT "wb_connections_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dead_letters" ADD CONSTRAINT "dead_letters_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dead_letters" ADD CONSTRAINT "dead_letters_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sync_state" ADD CONSTRAINT "sync_state_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "daily_product_stats" ADD CONSTRAINT "daily_product_stats_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders" ADD CONSTRAINT "orders_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "products" ADD CONSTRAINT "products_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sales" ADD CONSTRAINT "sales_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stocks" ADD CONSTRAINT "stocks_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "warehouses" ADD CONSTRAINT "warehouses_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_keys_org_idx" ON "api_keys" USING btree ("org_id");--> statement-breakpoint
CREATE INDEX "refresh_tokens_family_idx" ON "refresh_tokens" USING btree ("family_id");--> statement-breakpoint
CREATE INDEX "refresh_tokens_user_idx" ON "refresh_tokens" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "memberships_user_idx" ON "memberships" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "dead_letters_org_idx" ON "dead_letters" USING btree ("org_id","failed_at");--> statement-breakpoint
CREATE INDEX "jobs_org_created_idx" ON "jobs" USING btree ("org_id","created_at");--> statement-breakpoint
CREATE INDEX "jobs_status_lease_idx" ON "jobs" USING btree ("status","lease_until");--> statement-breakpoint
CREATE UNIQUE INDEX "jobs_active_org_kind_uq" ON "jobs" USING btree ("org_id","kind") WHERE status in ('queued', 'running', 'failed');--> statement-breakpoint
CREATE INDEX "orders_org_date_idx" ON "orders" USING btree ("org_id","date");--> statement-breakpoint
CREATE INDEX "orders_org_nm_date_idx" ON "orders" USING btree ("org_id","nm_id","date");--> statement-breakpoint
CREATE INDEX "products_name_trgm_idx" ON "products" USING gin ("name" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "products_article_trgm_idx" ON "products" USING gin ("supplier_article" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "sales_org_date_idx" ON "sales" USING btree ("org_id","date");--> statement-breakpoint
CREATE INDEX "sales_org_nm_date_idx" ON "sales" USING btree ("org_id","nm_id","date");--> statement-breakpoint
CREATE INDEX "stocks_org_warehouse_idx" ON "stocks" USING btree ("org_id","warehouse_name");--> statement-breakpoint
CREATE INDEX "stocks_org_size_idx" ON "stocks" USING btree ("org_id","tech_size");