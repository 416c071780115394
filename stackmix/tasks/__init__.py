"""`prepare.py` jobs: each module has ``run(cfg)`` and a config ``conf/task/<name>.yaml``."""
