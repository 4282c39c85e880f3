"""MiniBind: a small joint image/audio/text space trained offline into frozen MiniLM (ImageBind's recipe).

`load_space("minibind")` embeds text with MiniLM and images/sounds with two small encoders whose
weights ship in weights/. The procedural world they were trained on (world.py) knows the true
caption of every scene, so inversion can be scored exactly. Retrain: `python -m unembed.spaces.minibind.train`.
"""
