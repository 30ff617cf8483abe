-- The evidence area's tables (reserved step; see internal/store/store.go).
SELECT 1;
