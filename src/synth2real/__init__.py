"""synth2real: synthetic-to-real image classification study."""
