#!/usr/bin/env python
"""Recognize line images with a trained model: `python predict.py ckpt=... input=...`."""
from stackmix.cli.predict import main

if __name__ == "__main__":
    main()
