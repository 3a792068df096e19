// The integration tests start real processes and one PostgreSQL; on a 2-core machine they run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
