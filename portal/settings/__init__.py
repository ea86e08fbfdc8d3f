"""Settings: ``base`` (everything, from the environment), ``dev``, ``test``, ``production``."""
