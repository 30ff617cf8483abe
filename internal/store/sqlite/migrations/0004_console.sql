-- The console area's tables (reserved step; see internal/store/console.go).
SELECT 1;
