"""Read .tflite flatbuffers (no TensorFlow import), count their work, plan their memory."""
