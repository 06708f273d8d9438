"""The offline world the demo and the end-to-end tests run in (needs the `local` extra)."""
