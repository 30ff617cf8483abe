package store

// Watch is the storage of watching (alarms and their history), site lifecycle moves, configuration versions, commissioning and the comparisons of чл. 20 and 27 (docs/watching.md).
type Watch interface{}
