import numpy as np
import torch

from science.fourier import AuthorsFourierImage


def _their_decode(spectrum: np.ndarray, h: int, w: int) -> np.ndarray:
    """The authors' fft_image decoding (Lucid's), transcribed with NumPy: frequencies from
    numpy's fftfreq (one extra column for an odd width), scale 1/max(f, 1/max(h, w)), inverse
    real FFT with orthonormal scaling, cropped, divided by 4, colours decorrelated by the
    normalised square root of ImageNet's colour correlation, then a sigmoid."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[: w // 2 + 2] if w % 2 == 1 else np.fft.fftfreq(w)[: w // 2 + 1]
    freqs = np.sqrt(fx * fx + fy * fy)
    scale = 1.0 / np.maximum(freqs, 1.0 / max(w, h))
    scaled = scale[None, None, ..., None] * spectrum
    complex_spectrum = scaled[..., 0] + 1j * scaled[..., 1]
    image = np.fft.irfftn(complex_spectrum, s=(h, w), axes=(-2, -1), norm="ortho")[..., :h, :w] / 4.0
    svd_sqrt = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32)
    normalised = svd_sqrt / np.max(np.linalg.norm(svd_sqrt, axis=0))
    image = np.matmul(image.transpose(0, 2, 3, 1), normalised.T).transpose(0, 3, 1, 2)
    return 1 / (1 + np.exp(-image))


def test_the_authors_fourier_form_decodes_a_given_spectrum_as_their_code_does():
    for h, w in ((16, 16), (15, 13)):
        form = AuthorsFourierImage(h, w, "cpu")
        spectrum = torch.randn(2, *form.shape, generator=torch.Generator().manual_seed(0))
        ours = form.decode(spectrum).numpy()
        assert ours.shape == (2, 3, h, w)
        np.testing.assert_allclose(ours, _their_decode(spectrum.double().numpy(), h, w), atol=1e-5)


def test_their_projection_clamps_the_parameters_not_the_image():
    form = AuthorsFourierImage(8, 8, "cpu")
    z = torch.randn(1, *form.shape) * 3
    form.project(z)
    assert z.min() >= 0 and z.max() <= 1
