"""`python -m app`: serve the platform with uvicorn on loopback."""

import argparse

import uvicorn


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the Agent Squad platform")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run("app.main:app", host=args.host, port=args.port)


if __name__ == "__main__":
    main()
