-- An owner being erased: set before its keys are revoked and its codes deleted, so that no new code is
-- accepted for it (CodeRepository.InsertAsync checks it) while the erasure runs, and a retried erasure
-- continues where the last one stopped.
ALTER TABLE owners ADD COLUMN erasing_since timestamptz NULL;
