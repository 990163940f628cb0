"""Hold a workspace's initialization lock the way a running initialization does, until killed.

    python hold_init_lock.py LOCK_FILE

Prints "locked" once the lock is held.
"""

import sys
import time

import filelock

lock = filelock.FileLock(sys.argv[1], fallback_to_soft=False)
lock.acquire(blocking=False)
print("locked", flush=True)
while True:
    time.sleep(60)
