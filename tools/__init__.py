"""What people and make run: `python -m tools.<name>`. These may use fixtures/, never the other way round."""
