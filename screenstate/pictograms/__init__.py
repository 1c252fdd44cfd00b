"""Pictograms read as words: a small encoder trained here maps icon crops into the text
channel's sentence space, so "icon: dialog warning" can be matched to class descriptions.

Modules: ``vocab`` (names, keywords, licences), ``dataset`` (icon bank from @iconify/json
and Debian icon themes), ``augment`` and ``model`` and ``train`` (training, torch),
``candidates`` (where icons are on a screen), ``reader`` (ONNX inference, no torch),
``hook`` (the text channel's entry point). Weights, data manifest, licences and metrics
ship in ``weights/``.
"""
