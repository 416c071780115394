#!/usr/bin/env python
"""Data preparation jobs (char masks, StackMix token banks, datasets, previews): see README."""
from stackmix.cli.prepare import main

if __name__ == "__main__":
    main()
