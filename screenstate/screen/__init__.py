"""Screen geometry from pixels alone: window boxes (``windows``) and the foreground window of
a desktop screenshot (``foreground``). No model, no feature type: the channels, the gate and
the pictogram reader build on it."""
