package store

// Console is the storage of the web console: people and their roles, sessions and the audit log of every change a person makes (docs/console.md).
type Console interface{}
