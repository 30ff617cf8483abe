// Package layout holds no code: its test keeps the architecture of docs/architecture.md true, with
// dependencies pointing from the edges (cmd, and later web) towards the core and never back.
package layout
