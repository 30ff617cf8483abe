-- The watch area's tables (reserved step; see internal/store/watch.go).
SELECT 1;
