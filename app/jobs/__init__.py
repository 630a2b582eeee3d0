"""Background work (DESIGN §7): the scheduler, its lease, the built-in sweeps and the
brands' cron jobs that raise internal events through the rules engine.

- `cron`: when a job is due, as wall-clock occurrences in its time zone (pure);
- `selectors`: which customers a job is for, validated strictly (pure);
- `scheduler`: one PeriodicCallback per process, never overlapping, bounded per tick,
  running only while this process holds the lease row.
"""
