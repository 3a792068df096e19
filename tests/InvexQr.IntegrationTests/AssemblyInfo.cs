// Test classes run one at a time within a collection: the real processes (Processes/, mostly waiting, on a
// PostgreSQL of their own) run beside everything in process on the shared PostgreSQL.
[assembly: CollectionBehavior(MaxParallelThreads = 2)]
