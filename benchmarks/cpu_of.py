"""Run a command and print the CPU time it used, its own processes included (those it waited for):
`python -m benchmarks.cpu_of LABEL -- COMMAND ...`. The load benchmarks wrap their generators in it,
so a figure says what the generator cost besides what it measured. Exits with the command's status.
"""

import resource
import subprocess
import sys


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m benchmarks.cpu_of LABEL -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    label, command = argv[0], argv[2:]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    status = subprocess.call(command)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"{label} CPU: {used:.1f} s", flush=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
