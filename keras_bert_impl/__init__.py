"""BERT for Keras 3 on TensorFlow."""
