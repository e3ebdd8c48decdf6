"""The two papers' methods as plain PyTorch, NumPy and SciPy: no Django, Celery or app import,
so a notebook can ``from science.engine import invert`` with no settings.

- ``engine``: identically represented inputs by gradient descent (SCIENCE.md §1, Eq. 2);
- ``regularizers``, ``fourier``: the regularizer families (human-leaning, adversarial);
- ``networks``: building a network and exposing one layer as ``g``;
- ``backbones``, ``perceptual``: ImageNet AlexNet/VGG16 weights offline, LPIPS distances;
- ``alignment``: triplet and pairwise alignment and the many-model statistics (§3);
- ``images``: pixels in [0, 1] to and from files; ``seeding``: one seed for torch, NumPy, random.
"""
