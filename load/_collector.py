"""The generator's garbage collector, tuned so that its own pauses are not measured as the platform's.

Every time Locust records (a response, an event's delivery) includes whatever its process did
meanwhile. With thousands of users, each a greenlet with its client, buffers and statistics,
CPython's collections of the older generations walk all of them and hold every greenlet up for
tens to hundreds of milliseconds; with 5,000 streams, tuning this took the delivery p99 from 410 to
260 ms on the same platform. So the youngest generation is collected every
YOUNG_COLLECTION_ALLOCATIONS allocations instead of 700 or 2,000 (a request's objects are freed by their
reference counts long before), and the objects alive once the users are spawned, which live as
long as the run, are frozen out of every collection.
"""

import gc

from locust import events

# Allocations between collections of the youngest generation (CPython: 700 by default, 2,000 since 3.13).
YOUNG_COLLECTION_ALLOCATIONS = 50_000

_, _middle, _old = gc.get_threshold()
gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS, _middle, _old)


@events.spawning_complete.add_listener
def freeze_the_spawned_users(**_kwargs: object) -> None:
    # No collection first: a full one over thousands of users would be the very pause this avoids.
    gc.freeze()
