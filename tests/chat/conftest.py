"""The chat tests use the API tests' fixtures: cheap Argon2 and settings overrides (imported to register them)."""

from tests.api.conftest import _fast_argon2, real_argon2, settings_overrides

__all__ = ["_fast_argon2", "real_argon2", "settings_overrides"]
