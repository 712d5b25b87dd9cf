from .hooks import *  # noqa: F401,F403
from .few_shot_loops import *  # noqa: F401,F403
