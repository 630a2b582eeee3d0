"""The running parts of one service instance: database, writer, readers, services.

`Runtime.open` migrates the database, then starts the writer and the readers; `close`
drains the writer (every accepted command commits) and closes every connection.
"""
from __future__ import annotations

from .clock import SystemClock
from .config import Config
from .payouts.deposits import DepositScanner
from .payouts.hd_seed import HdSeed
from .payouts.outbox import PayoutDrain
from .payouts.registry import build_rails
from .services.events import EventService
from .services.giftcards import GiftCardService
from .services.jobs import JobService
from .services.ledger import LedgerService
from .services.payouts import PayoutService
from .services.referrals import ReferralService
from .services.rewards import RewardService
from .services.rules import RuleService
from .services.wallets import WalletService
from .store import service_lock
from .store.idempotency import purge_older_than
from .store.migrations import migrate
from .store.readers import Readers
from .store.sqlite import DbSettings, connect
from .store.writer import Writer


class Runtime:
    def __init__(self, config: Config, clock=None) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.db = DbSettings.from_config(config)
        conn = connect(self.db)
        self._lock_fd = service_lock.hold_shared(self.db.path)  # `restore` waits for us to stop
        try:
            self.applied_migrations = migrate(conn)
        finally:
            conn.close()
        self.writer = Writer(self.db, queue_max=config.writer_queue_max,
                             batch_max=config.writer_batch_max).start()
        self.readers = Readers(DbSettings.from_config(config, role="reader"), config.reader_pool_size)
        self.ledger = LedgerService(self.writer, self.readers, self.clock)
        self.rewards = RewardService(self.ledger)
        self.referrals = ReferralService(self.ledger)
        self.giftcards = GiftCardService(self.ledger)
        self.events = EventService(self.writer, self.readers, self.clock)
        self.rules = RuleService(self.writer, self.readers, self.clock)
        self.scheduler = None  # app.jobs.scheduler.Scheduler, started by `serve` (needs the event loop)
        self.jobs = JobService(self.writer, self.readers, self.clock, scan_max=config.job_scan_max,
                               events_max=config.job_events_max, late_ms=config.job_late_s * 1000)
        try:  # payouts (DESIGN §8): the rails are built from the settings; the chain connects lazily
            self.rails = build_rails(config, self.writer, self.readers)
        except Exception:
            self.readers.close()
            self.writer.close()
            service_lock.release(self._lock_fd)
            raise
        self.payouts = PayoutService(self.ledger, self.rails, config.payout_limits)
        self.payout_drain = PayoutDrain(self.writer, self.readers, self.clock, self.rails,
                                        batch_max=config.payout_drain_batch_max,
                                        poll_ms=config.payout_poll_interval_ms,
                                        retry_max_ms=config.payout_retry_max_ms,
                                        cpu_budget_ms=config.dev_chain_tick_budget_ms)
        self.deposits = DepositScanner(self.writer, self.readers, self.clock, self.rails.get("chain"),
                                       blocks_max=config.deposit_scan_blocks_max)
        self.wallets = WalletService(self.ledger, self.rails, HdSeed(config), self.deposits)

    async def purge_idempotency(self) -> int:
        """Forget stored Idempotency-Key responses older than IDEMPOTENCY_TTL_S."""
        cutoff = self.clock.now_ms() - self.config.idempotency_ttl_s * 1000
        limit = self.config.scheduler_batch_max
        return await self.writer.submit(lambda c: purge_older_than(c, cutoff, limit))

    def close(self) -> None:
        # Readers first: the writer's connection is then the last one open on the file, and
        # SQLite checkpoints the WAL into the database and deletes it when that one closes
        # (a read-only connection closing last cannot).
        self.rails.close()  # the chain rail's thread reads through the readers
        self.readers.close()
        self.writer.close()
        service_lock.release(self._lock_fd)
        self._lock_fd = None
