// Test classes run one at a time within a collection: the real processes (Processes/, mostly waiting, on a
// PostgreSQL of their own) and the rolling-change test (likewise) run beside everything in process.
[assembly: CollectionBehavior(MaxParallelThreads = 3)]
