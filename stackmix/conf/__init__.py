"""The Hydra configs of train.py / prepare.py / predict.py (YAML) and their typed schemas.

Importing this package registers the schemas (``schema_<group>`` in Hydra's ConfigStore) that
the YAML files build on; Hydra imports it when composing from ``stackmix.conf``, and the entry
points import it before composing from the folder.
"""
from stackmix.conf.schema import register

register()
