-- The evidence: a batch keeps its header line exactly as received (values, certificate chain, signature),
-- so that the batch file can be given back and verified offline (docs/storage.md, "The batch file kept").
-- The column of 0001 held nothing (the intake never filled it); it is renamed to say what it holds now.
ALTER TABLE batches RENAME COLUMN raw TO header;
