-- The notices area's tables (reserved step; see internal/store/notices.go).
SELECT 1;
