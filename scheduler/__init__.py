"""crosspost's scheduler: domain core (states, time, posts, publications, dispatch) and its shells."""

import warnings

# X's character counting (twitter-text-parser) imports pkg_resources, whose import warns that it is
# deprecated; the dependency is pinned where it still exists (pyproject.toml), so the warning would
# only put noise on every command's stderr.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
