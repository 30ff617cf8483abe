package store

// Notices is the storage of notices and subscriptions („Обратна връзка с ИО“): the catalogue of information systems, subscriptions, notices with their revisions, and the outbox (docs/notices.md).
type Notices interface{}
