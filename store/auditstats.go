package store

// AuditBatches is how many transactions the audit writer has committed
// since the store was opened (each holds the events waiting at its
// start): Append calls over AuditBatches is the group commit's gain, which
// the benchmarks report.
func (s *Store) AuditBatches() int64 { return s.audit.batches.Load() }
