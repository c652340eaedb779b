"""The app as the web server's processes import it (`python -m app`): with the garbage collector
tuned for a server that answers many requests at once.

CPython collects its youngest generation every 700 allocations (2,000 since 3.13). With many
requests in flight, each collection finds the objects of the requests not yet answered still alive
and moves them to the older generations, whose collections then come often and walk every object
the process holds (FastAPI's routes, SQLAlchemy's and pydantic's models: hundreds of thousands).
Measured with wrk on one core, the board's reads fell from 1,150 to 890 requests/s between 4 and 88
connections, a tenth of the time spent collecting. So the objects made while the app was imported, which live as
long as the process, are frozen out of every collection (`gc.freeze`), and the youngest
generation is collected every YOUNG_COLLECTION_ALLOCATIONS: a request's objects are freed by their
reference counts long before that, so few are left to move. The app's tests import app.main and
keep the interpreter's defaults.
"""

import gc

from app.main import app

# Allocations between collections of the youngest generation (CPython: 700 by default, 2,000 since 3.13).
YOUNG_COLLECTION_ALLOCATIONS = 50_000


def tune_for_serving() -> None:
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS, middle, old)


tune_for_serving()

__all__ = ["app"]
