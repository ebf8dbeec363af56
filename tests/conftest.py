"""What every test needs, and nothing more: the var directory the settings point into exists."""

from tests.settings import VAR_DIR

VAR_DIR.mkdir(parents=True, exist_ok=True)
