-- The submissions area's tables (reserved step; see internal/store/submissions.go).
SELECT 1;
