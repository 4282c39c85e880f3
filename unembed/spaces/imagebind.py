"""ImageBind (Girdhar et al., CVPR 2023) as a space: text, images, audio and video in one 1024-d space.

The model class comes from the `imagebind` package (PyPI `imagebind-unofficial`, the official code);
the preprocessing below follows its reference `imagebind/data.py` and is checked against it in
tests/test_spaces_imagebind.py:

- images: resize the short side to 224 (bicubic), centre-crop 224, CLIP mean/std normalisation.
- audio: mono, resampled to 16 kHz; 3 clips of 2 s (starts spaced evenly over the first
  duration - 2 s); each a Kaldi fbank of 128 mel bins (25 ms window, 10 ms hop, Hanning, no
  dither) padded with zeros or cut to 204 frames, normalised with mean -4.268, std 9.138. The
  model embeds the 3 clips and averages them.
- video (decord): 5 clips of 2 s placed like the audio clips, 2 evenly spaced frames each, short
  side scaled to 224 (bilinear), CLIP normalisation, 3 square crops along the long side; the model
  embeds the 15 views and averages them.

Where this differs from the reference, on inputs the reference cannot take: channels are averaged
(the reference reads the first channel only); a recording shorter than one 25 ms window (400
samples at 16 kHz) is padded with silence to one window (the reference fails); a rate whose ratio to
16 kHz has large terms (44,101 Hz) is resampled by a ratio within 0.05% of it (`inputs.resample`: the
reference's kernel would take gigabytes). Recordings shorter than 2 s are handled as the reference
does: the whole recording is each clip, its fbank padded.

Outputs are re-normalised to unit rows: the model multiplies text by its learnt logit scale and
audio by 20, and the mean of 3 unit clip embeddings is shorter than 1.

Weights (`imagebind_huge.pth`, 4.5 GB, CC BY-NC-SA 4.0) are looked up in this order: the `weights`
option, $UNEMBED_IMAGEBIND_WEIGHTS, `<torch hub dir>/checkpoints/imagebind_huge.pth` (by default
~/.cache/torch/hub/checkpoints/), `./.checkpoints/imagebind_huge.pth` (where the reference code puts
it); if none exists they are downloaded to the torch hub location, with a progress bar and resuming
an interrupted download. Offline, WeightsNotFoundError says where to put the file.
`random_weights=True` builds the same architecture (or a reduced `size="tiny"`) with seeded random
weights, for tests and benchmarks; its spec (`imagebind:random-tiny-seed0`) differs from the real
one, so a bank built with it is never searched with real ImageBind vectors.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
import urllib.error
import zipfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchaudio
from torchvision import transforms

from ..download import download_file
from ..errors import InputError, MissingDependencyError, SpaceError, WeightsNotFoundError
from ..registry import require
from .base import Space
from .inputs import load_audio, load_image, resample
from .runtime import RandomWeights, TorchRuntime, read_random_weights, seeded

CHECKPOINT_URL = "https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth"
WEIGHTS_ENV = "UNEMBED_IMAGEBIND_WEIGHTS"
URL_ENV = "UNEMBED_IMAGEBIND_URL"  # a mirror of CHECKPOINT_URL
# Not pinned yet: Meta publishes no digest for imagebind_huge.pth and this project could not download
# the 4.5 GB file to compute one. A download is then checked as before (complete, a readable
# state dict of the right shapes). Set $UNEMBED_IMAGEBIND_SHA256 to pin one yourself.
CHECKPOINT_SHA256: str | None = None
SHA256_ENV = "UNEMBED_IMAGEBIND_SHA256"

# ImageBindModel arguments. "huge" is the released model (imagebind_huge() in the reference);
# "tiny" keeps every input shape and layer type but is small enough for tests on a CPU.
SIZES: dict[str, dict[str, Any]] = {
    "huge": dict(
        vision_embed_dim=1280,
        vision_num_blocks=32,
        vision_num_heads=16,
        text_embed_dim=1024,
        text_num_blocks=24,
        text_num_heads=16,
        out_embed_dim=1024,
        audio_drop_path=0.1,
        imu_drop_path=0.7,
    ),
    "tiny": dict(
        vision_embed_dim=64,
        vision_num_blocks=2,
        vision_num_heads=2,
        text_embed_dim=64,
        text_num_blocks=2,
        text_num_heads=2,
        audio_embed_dim=64,
        audio_num_blocks=2,
        audio_num_heads=2,
        depth_embed_dim=32,
        depth_num_blocks=1,
        depth_num_heads=2,
        thermal_embed_dim=32,
        thermal_num_blocks=1,
        thermal_num_heads=2,
        imu_embed_dim=32,
        imu_num_blocks=1,
        imu_num_heads=2,
        out_embed_dim=32,
    ),
}
RELEASED_SIZES = ("huge",)

IMAGE_SIZE = 224
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

SAMPLE_RATE = 16_000
CLIP_SECONDS = 2
CLIPS_PER_RECORDING = 3
MEL_BINS = 128
TARGET_FRAMES = 204
FBANK_MEAN = -4.268
FBANK_STD = 9.138
MIN_SAMPLES = 400  # one 25 ms fbank window at 16 kHz

VIDEO_CLIPS = 5
FRAMES_PER_CLIP = 2

# Our modality names -> the model's.
_MODEL_MODALITY = {"text": "text", "image": "vision", "audio": "audio", "video": "vision"}


def _imagebind_model_modules():
    """The model class and tokenizer from the `imagebind` package.

    `import imagebind` runs its __init__, which imports imagebind.data and through it pytorchvideo
    0.1.5 (the last release), which imports torchvision.transforms.functional_tensor, removed in
    torchvision 0.17. The model needs only imagebind.models, so when the package's __init__ cannot
    import, the package is registered without running it and the model modules are imported alone.
    """
    try:  # optional (the imagebind extra), and its __init__ may fail to import: see above
        import imagebind  # noqa: F401
    except ImportError:
        spec = importlib.util.find_spec("imagebind")
        if spec is None:
            raise MissingDependencyError(
                "the ImageBind model code is not installed. Install it with `pip install 'unembed[imagebind]'` "
                "(it provides the `imagebind` package from imagebind-unofficial)."
            ) from None
        package = importlib.util.module_from_spec(spec)
        sys.modules["imagebind"] = package
    try:
        from imagebind.models.imagebind_model import ImageBindModel
        from imagebind.models.multimodal_preprocessors import SimpleTokenizer
    except ImportError as error:
        raise MissingDependencyError(
            f"the ImageBind model code cannot import ({error}). Install its dependencies with `pip install 'unembed[imagebind]'`."
        ) from error
    bpe_path = Path(sys.modules["imagebind"].__path__[0]) / "bpe" / "bpe_simple_vocab_16e6.txt.gz"
    return ImageBindModel, SimpleTokenizer, bpe_path


def checkpoint_name(size: str) -> str:
    return f"imagebind_{size}.pth"


def default_checkpoint_path(size: str = "huge") -> Path:
    """Where a download goes: the torch hub cache ($TORCH_HOME, by default ~/.cache/torch/hub)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / checkpoint_name(size)


def find_checkpoint(size: str = "huge", weights: str | os.PathLike | None = None, download: bool = True) -> Path:
    """The checkpoint file for `size`: explicit path, environment, caches, else a download."""
    for path, origin in ((weights, "the weights option"), (os.environ.get(WEIGHTS_ENV), f"${WEIGHTS_ENV}")):
        if path:
            path = Path(path).expanduser()
            if not path.is_file():
                raise WeightsNotFoundError(
                    f"ImageBind weights {str(path)!r} (from {origin}) do not exist. Download {CHECKPOINT_URL} "
                    "and give its path, or leave the path unset to use the cache."
                )
            return path
    cached = default_checkpoint_path(size)
    reference_location = Path(".checkpoints") / checkpoint_name(size)
    for path in (cached, reference_location):
        if path.is_file():
            return path
    where = (
        f"Put the checkpoint at {cached}, or point ${WEIGHTS_ENV} or the weights option (`load_space('imagebind', weights=PATH)`) at it."
    )
    if size not in RELEASED_SIZES:
        raise WeightsNotFoundError(
            f"no ImageBind weights for size {size!r}: only {', '.join(RELEASED_SIZES)} was released. {where} "
            "Or use random_weights=True for a random-weight model of this size."
        )
    if not download:
        raise WeightsNotFoundError(f"ImageBind weights {checkpoint_name(size)} are not on this machine. {where}")
    url = os.environ.get(URL_ENV) or CHECKPOINT_URL
    try:
        download_file(url, cached, sha256=os.environ.get(SHA256_ENV) or CHECKPOINT_SHA256)
    except (urllib.error.URLError, OSError) as error:
        raise WeightsNotFoundError(
            f"ImageBind weights are not on this machine and downloading {url} failed ({error}). Offline? "
            f"Download it elsewhere (4.5 GB). {where}"
        ) from error
    return cached


def build_model(size: str, *, random_weights: bool, seed: int = 0, weights=None, download: bool = True):
    ImageBindModel, _, _ = _imagebind_model_modules()
    if random_weights:
        with seeded(seed):
            return ImageBindModel(**SIZES[size]).eval()
    path = find_checkpoint(size, weights, download)
    try:
        # Memory-mapped (zip checkpoints, i.e. any saved since torch 1.6): the model's tensors are
        # then the file's pages, not a second 4.5 GB copy next to the freshly built model.
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except Exception as error:  # truncated files and pickles of arbitrary objects fail in many ways
        raise SpaceError(
            f"cannot read ImageBind weights {str(path)!r} ({type(error).__name__}: {error}). If it is a "
            f"partial download, delete it and load again; the file must be {CHECKPOINT_URL}."
        ) from error
    model = ImageBindModel(**SIZES[size])  # (the meta device cannot build it: its __init__ calls .item())
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except (RuntimeError, TypeError, AttributeError) as error:
        raise SpaceError(
            f"{str(path)!r} is not an ImageBind-{size} checkpoint: {str(error)[:300]}. Use the official {CHECKPOINT_URL}."
        ) from error
    return model.eval()


def image_batch(items: Sequence[Any]) -> torch.Tensor:
    """(n, 3, 224, 224) float32, as the reference's load_and_transform_vision_data."""
    transform = transforms.Compose(
        [
            transforms.Resize(IMAGE_SIZE, interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.CenterCrop(IMAGE_SIZE),
            transforms.ToTensor(),
            transforms.Normalize(mean=CLIP_MEAN, std=CLIP_STD),
        ]
    )
    return torch.stack([transform(load_image(item)) for item in items])


def clip_starts(duration: float, clips: int) -> list[Fraction]:
    """Clip start times (s), as pytorchvideo's ConstantClipsPerVideoSampler places them.

    Starts are 0, 1/n, ..., (n-1)/n of (duration - 2 s), so the last clip does not reach the end;
    the float-then-Fraction arithmetic is the reference's, so that rounding to samples or frames
    lands on the same index.
    """
    step = Fraction(max(duration - CLIP_SECONDS, 0)) / clips
    return [step * index for index in range(clips)]


def clip_bounds(num_samples: int) -> list[tuple[int, int]]:
    """Sample ranges of the 3 audio clips (an end past the recording is cut by slicing)."""
    starts = clip_starts(num_samples / SAMPLE_RATE, CLIPS_PER_RECORDING)
    return [(int(start * SAMPLE_RATE), int((start + CLIP_SECONDS) * SAMPLE_RATE)) for start in starts]


def audio_clips(samples: np.ndarray, sample_rate: int) -> torch.Tensor:
    """(3, 1, 128, 204) normalised log-mel clips of one mono recording."""
    waveform = torch.tensor(samples, dtype=torch.float32)[None]
    if sample_rate != SAMPLE_RATE:
        waveform = resample(waveform, sample_rate, SAMPLE_RATE)
    if waveform.shape[1] < MIN_SAMPLES:
        waveform = torch.nn.functional.pad(waveform, (0, MIN_SAMPLES - waveform.shape[1]))
    clips = []
    for start, end in clip_bounds(waveform.shape[1]):
        clip = waveform[:, start:end]
        # In place on a view, like the reference: where clips overlap (recordings under 6 s) one
        # clip's mean removal carries into the next, and the model was used with exactly that.
        clip -= clip.mean()
        fbank = torchaudio.compliance.kaldi.fbank(
            clip,
            htk_compat=True,
            sample_frequency=SAMPLE_RATE,
            use_energy=False,
            window_type="hanning",
            num_mel_bins=MEL_BINS,
            dither=0.0,
            frame_length=25,
            frame_shift=10,
        ).T
        fbank = torch.nn.functional.pad(fbank, (0, max(TARGET_FRAMES - fbank.shape[1], 0)))[:, :TARGET_FRAMES]
        clips.append((fbank - FBANK_MEAN) / FBANK_STD)
    return torch.stack(clips)[:, None]


def audio_batch(items: Sequence[Any]) -> torch.Tensor:
    """(n, 3, 1, 128, 204), as the reference's load_and_transform_audio_data."""
    return torch.stack([audio_clips(*load_audio(item)) for item in items])


def _decoded(frames) -> torch.Tensor:
    # decord returns its own arrays, or torch tensors once something (pytorchvideo) has set its
    # process-wide bridge to torch.
    return torch.as_tensor(frames.asnumpy() if hasattr(frames, "asnumpy") else frames)


def video_clips(path: str | os.PathLike) -> torch.Tensor:
    """(15, 3, 2, 224, 224): 5 clips of 2 s, 2 frames each, 3 crops each, as load_and_transform_video_data."""
    decord = require("decord", extra="imagebind", needed_by="video input")
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"cannot use a {type(path).__name__} as a video. Pass a file path (.mp4, .avi, ...).")
    if not Path(path).is_file():
        raise InputError(f"video file {str(path)!r} does not exist. Check the path.")
    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0))
    except Exception as error:  # decord raises its own DECORDError for anything it cannot decode
        raise InputError(f"cannot read {str(path)!r} as a video ({error}). Convert it to H.264 MP4 (e.g. with ffmpeg).") from error
    fps, frame_count = reader.get_avg_fps(), len(reader)
    if frame_count == 0 or not fps > 0:
        raise InputError(f"{str(path)!r} has no video frames. Pass a video with at least one frame.")
    mean = torch.tensor(CLIP_MEAN)[:, None, None, None]
    std = torch.tensor(CLIP_STD)[:, None, None, None]
    clips = []
    for start in clip_starts(frame_count / fps, VIDEO_CLIPS):
        first = math.ceil(fps * start)
        end = min(math.ceil(fps * (start + CLIP_SECONDS)), frame_count)
        if first >= end:  # rounding left this clip no frame; the reference fails here, we take the nearest
            first, end = min(first, frame_count - 1), min(first, frame_count - 1) + 1
        # The reference decodes every frame of the clip, then keeps FRAMES_PER_CLIP evenly spaced ones.
        picked = (first + torch.linspace(0, end - first - 1, FRAMES_PER_CLIP).long()).tolist()
        video = _decoded(reader.get_batch(picked)).permute(3, 0, 1, 2).float() / 255.0  # (C, T, H, W)
        height, width = video.shape[-2:]
        if width < height:
            size = (int(math.floor(height / width * IMAGE_SIZE)), IMAGE_SIZE)
        else:
            size = (IMAGE_SIZE, int(math.floor(width / height * IMAGE_SIZE)))
        video = torch.nn.functional.interpolate(video, size=size, mode="bilinear", align_corners=False)
        video = (video - mean) / std
        clips.extend(_three_crops(video))
    return torch.stack(clips)


def _three_crops(video: torch.Tensor) -> list[torch.Tensor]:
    """Start, centre and end squares along the long side (left/centre/right or top/centre/bottom)."""
    height, width = video.shape[-2:]
    y_centre, x_centre = math.ceil((height - IMAGE_SIZE) / 2), math.ceil((width - IMAGE_SIZE) / 2)
    if height > width:
        offsets = [(0, x_centre), (y_centre, x_centre), (height - IMAGE_SIZE, x_centre)]
    else:
        offsets = [(y_centre, 0), (y_centre, x_centre), (y_centre, width - IMAGE_SIZE)]
    return [video[..., y : y + IMAGE_SIZE, x : x + IMAGE_SIZE] for y, x in offsets]


def video_batch(items: Sequence[Any]) -> torch.Tensor:
    """(n, 15, 3, 2, 224, 224); the model embeds the 15 views and averages them."""
    return torch.stack([video_clips(item) for item in items])


class ImageBindSpace(Space):
    modalities = ("text", "image", "audio", "video")
    runtime: TorchRuntime

    def __init__(self, spec: str, model: torch.nn.Module, size: str, runtime: TorchRuntime, batch_size: int):
        _, SimpleTokenizer, bpe_path = _imagebind_model_modules()
        self.spec = spec
        self.size = size
        self.dim = int(SIZES[size]["out_embed_dim"])
        self.runtime = runtime
        self.batch_size = batch_size
        self.model = model.to(runtime.device)
        self.tokenizer = SimpleTokenizer(bpe_path=str(bpe_path))

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        """(n, 77) token ids, as the reference's load_and_transform_text."""
        return self.tokenizer(texts).reshape(len(texts), -1)

    def _encode(self, modality: str, batch: list[Any]) -> np.ndarray:
        key = _MODEL_MODALITY[modality]
        if modality == "text":
            inputs = self.tokenize(batch)
        else:
            inputs = {"image": image_batch, "audio": audio_batch, "video": video_batch}[modality](batch)
        return self.runtime.run(lambda tensor: self.model({key: tensor})[key], inputs)


def load_imagebind(
    argument: str = "",
    *,
    random_weights: bool = False,
    size: str | None = None,
    seed: int | None = None,
    weights: str | os.PathLike | None = None,
    download: bool = True,
    device: str | None = None,
    dtype: str | None = None,
    batch_size: int = 32,
) -> ImageBindSpace:
    """`imagebind` (the released huge model) or `imagebind:random-SIZE-seedN` (seeded random weights).

    Options: random_weights, size ("huge", "tiny"), seed, weights (checkpoint path), download,
    device, dtype ("float32", "float16", "bfloat16": autocast), batch_size.
    """
    if random_weights and argument and not argument.startswith("random"):
        raise SpaceError(f"random_weights=True and 'imagebind:{argument}' disagree; write 'imagebind:random-{argument}'.")
    random = read_random_weights(argument or ("random" if random_weights else ""), sizes=tuple(SIZES), seed=seed, size=size)
    if random is None and argument:
        if argument not in SIZES:
            raise SpaceError(
                f"cannot read the imagebind argument {argument!r}. Use 'imagebind' (the released model), or "
                f"'imagebind:random-SIZE-seedN' with SIZE one of {', '.join(SIZES)} (a seed only applies to random weights)."
            )
        if size is not None and size != argument:
            raise SpaceError(f"the spec says size {argument!r} but the option says {size!r}; give one.")
        size = argument
    size = (random.size if random else size) or "huge"
    if size not in SIZES:
        raise SpaceError(f"unknown ImageBind size {size!r}; choose one of {', '.join(SIZES)}.")
    runtime = TorchRuntime.create(device, dtype)
    if random is not None:
        model = build_model(size, random_weights=True, seed=random.seed)
        spec = f"imagebind:{RandomWeights(size, random.seed).spec}"
    else:
        model = build_model(size, random_weights=False, weights=weights, download=download)
        spec = "imagebind" if size == "huge" else f"imagebind:{size}"
    return ImageBindSpace(spec, model, size, runtime, batch_size)
