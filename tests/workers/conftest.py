from tests.support.previews import *  # noqa: F401,F403 - fixtures
