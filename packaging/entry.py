"""Entry script of the one-file executable (packaging/rewards.spec): the same `main` as `python -m app`.

The service starts no child processes (no multiprocessing), so no `freeze_support()` is needed.
"""
import sys

from app.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
