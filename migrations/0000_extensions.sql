-- Trigram search over product names and supplier articles (GET /stocks?q=).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
