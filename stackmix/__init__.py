"""StackMix-HTR: handwritten text recognition with StackMix and HandWritten Blots."""
__version__ = "0.1.0"
