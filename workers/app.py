"""The Celery app: Redis broker, one queue per modality, late acks.

A task is acknowledged only when it finished; if its worker dies, Redis hands the
message to another worker once `visibility_timeout` passes (restore sweeps every
`HYBRID_RESTORE_INTERVAL` seconds), so a killed worker's batch is redone within about a
minute. Tasks are idempotent (keyed by product id, content hash and encoder version), so
a redelivered batch writes nothing twice.
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
VISIBILITY_TIMEOUT = int(os.environ.get("HYBRID_VISIBILITY_TIMEOUT", "30"))
RESTORE_INTERVAL = int(os.environ.get("HYBRID_RESTORE_INTERVAL", "5"))

app = Celery("hybrid", broker=REDIS_URL, include=["workers.tasks"])
app.conf.update(
    task_queues=[Queue("text"), Queue("image"), Queue("audio")],
    task_default_queue="text",
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_ignore_result=True,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    broker_transport_options={
        "visibility_timeout": VISIBILITY_TIMEOUT,
        "unacked_restore_interval": RESTORE_INTERVAL,
        "unacked_restore_throttle": 1,
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
    },
)
