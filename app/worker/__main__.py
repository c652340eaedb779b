"""`python -m app.worker`: the older name of `python -m app worker`."""

import sys

from app.processes import main

if __name__ == "__main__":
    main(["worker", *sys.argv[1:]])
