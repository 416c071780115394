#!/usr/bin/env python
"""Train (and test) a line recognizer: `python train.py dataset=... aug=... model=...`."""
from stackmix.cli.train import main

if __name__ == "__main__":
    main()
