package store

// Submissions is the storage of file submissions: tobacco barcode lists (чл. 40–42) and quarterly electricity and gas tables (чл. 22–24) (docs/sepi.md, docs/energy.md).
type Submissions interface{}
