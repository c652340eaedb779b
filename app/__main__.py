"""`python -m app`: serve the platform with uvicorn on loopback; `python -m app worker`: run a pipeline worker."""

from app.processes import main

if __name__ == "__main__":
    main()
