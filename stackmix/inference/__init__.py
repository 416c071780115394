"""Using a trained model: decoders (greedy, beam search + LM), batch recognition of image files,
the evaluation report and the ONNX export. See README, "Use a trained model"."""
