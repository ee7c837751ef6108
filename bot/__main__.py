"""`python -m bot`: the Castfive service (the Procfile's worker)."""

from bot.runtime import main

if __name__ == "__main__":
    raise SystemExit(main())
