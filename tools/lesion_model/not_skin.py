"""Procedurally generated "not a skin photo" images for training and testing the skin gate.

Every image is drawn here from a seed (numpy + Pillow only, so the runtime test suite can make them
too): nothing is copied from anywhere. The families imitate what reaches a photo slot by mistake and
what a colour heuristic lets through: skin-coloured surfaces (wood, beige paper, sand), a red disc or
other shapes on beige, documents and forms, charts, greyscale medical images of other organs (X-ray,
ultrasound), fabric, stone, fur, food on a plate, sky and landscape.

`generate(family, seed)` is deterministic for a given Pillow/numpy build.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

WIDTH, HEIGHT = 640, 480


def _noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Smooth value noise in [-1, 1]: a coarse random grid, bicubically upsampled."""
    gh, gw = max(2, h * cells // max(h, w)), max(2, w * cells // max(h, w))
    grid = rng.uniform(-1, 1, size=(gh, gw)).astype(np.float32)
    img = Image.fromarray(((grid + 1) * 127.5).astype(np.uint8), "L").resize((w, h), Image.Resampling.BICUBIC)
    return np.asarray(img, dtype=np.float32) / 127.5 - 1.0


def _to_image(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def _colour(rng: np.random.Generator, low: int = 0, high: int = 256) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(low, high, size=3))  # type: ignore[return-value]


def _wood(rng: np.random.Generator) -> Image.Image:
    h, w = HEIGHT, WIDTH
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(-w, 2 * w), rng.uniform(-4 * h, -h)
    r = np.hypot((x - cx) * 0.15, y - cy) + 25 * _noise(rng, h, w, 6)
    rings = 0.5 + 0.5 * np.sin(r / rng.uniform(4, 10))
    base = np.array([rng.uniform(150, 215), rng.uniform(100, 160), rng.uniform(60, 110)], dtype=np.float32)
    grain = 0.08 * _noise(rng, h, w, 80)
    pixels = base * (0.75 + 0.25 * rings[..., None] + grain[..., None])
    return _to_image(pixels + rng.normal(0, 2, size=pixels.shape))


def _beige_background(rng: np.random.Generator) -> np.ndarray:
    base = np.array([rng.uniform(200, 240), rng.uniform(170, 215), rng.uniform(130, 185)], dtype=np.float32)
    return base * (1 + 0.04 * _noise(rng, HEIGHT, WIDTH, 5))[..., None] + np.zeros((HEIGHT, WIDTH, 3), np.float32)


def _disc_on_beige(rng: np.random.Generator) -> Image.Image:
    image = _to_image(_beige_background(rng))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(1, 4))):
        r = rng.uniform(40, 160)
        cx, cy = rng.uniform(r, WIDTH - r), rng.uniform(r, HEIGHT - r)
        fill = (int(rng.uniform(150, 230)), int(rng.uniform(20, 90)), int(rng.uniform(20, 90)))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0, 2)))


def _shapes(rng: np.random.Generator) -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), _colour(rng, 120, 256))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 14))):
        x0, y0 = rng.uniform(0, WIDTH), rng.uniform(0, HEIGHT)
        x1, y1 = x0 + rng.uniform(20, 250), y0 + rng.uniform(20, 250)
        kind = rng.integers(0, 3)
        if kind == 0:
            draw.rectangle((x0, y0, x1, y1), fill=_colour(rng))
        elif kind == 1:
            draw.ellipse((x0, y0, x1, y1), fill=_colour(rng), outline=_colour(rng), width=3)
        else:
            draw.line((x0, y0, x1, y1), fill=_colour(rng), width=int(rng.integers(2, 12)))
    return image


def _document(rng: np.random.Generator) -> Image.Image:
    paper = int(rng.uniform(225, 255))
    tint = rng.uniform(0, 25)
    image = Image.new("RGB", (WIDTH, HEIGHT), (paper, paper, int(paper - tint)))
    draw = ImageDraw.Draw(image)
    ink = int(rng.uniform(0, 70))
    y = rng.uniform(20, 60)
    letters = "abcdefghijklmnopqrstuvwxyz    "
    size = float(rng.uniform(0.8, 2.0))
    while y < HEIGHT - 20:
        words = "".join(letters[i] for i in rng.integers(0, len(letters), size=int(rng.integers(30, 90))))
        draw.text((30, y), words, fill=(ink, ink, ink), font_size=12 * size)
        y += rng.uniform(14, 22) * size
        if rng.random() < 0.1:
            draw.line((30, y, WIDTH - 30, y), fill=(ink, ink, ink), width=1)
            y += 10
    return image.rotate(float(rng.uniform(-4, 4)), fillcolor=(paper, paper, paper))


def _chart(rng: np.random.Generator) -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.line((60, 420, 600, 420), fill=(0, 0, 0), width=2)
    draw.line((60, 40, 60, 420), fill=(0, 0, 0), width=2)
    if rng.random() < 0.5:
        n = int(rng.integers(3, 12))
        for i in range(n):
            x0 = 70 + i * 520 / n
            top = rng.uniform(60, 400)
            draw.rectangle((x0, top, x0 + 520 / n * 0.7, 419), fill=_colour(rng))
    else:
        for _ in range(int(rng.integers(1, 4))):
            ys = 240 + np.cumsum(rng.normal(0, 15, size=40))
            pts = [(70 + i * 13, float(np.clip(v, 50, 410))) for i, v in enumerate(ys)]
            draw.line(pts, fill=_colour(rng), width=3)
    for i in range(5):
        draw.text((10, 60 + i * 80), f"{int(rng.integers(0, 100))}", fill=(0, 0, 0))
    return image


def _xray(rng: np.random.Generator) -> Image.Image:
    h, w = HEIGHT, WIDTH
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    body = np.exp(-(((x - w / 2) / (w * rng.uniform(0.25, 0.4))) ** 4 + ((y - h / 2) / (h * 0.6)) ** 4))
    ribs = 0.5 + 0.5 * np.sin((y + 30 * np.abs(x - w / 2) / w * 4) / rng.uniform(12, 20))
    bone = np.exp(-((x - w / 2) / 18) ** 2)
    value = 30 + 150 * body * (0.6 + 0.25 * ribs) + 70 * bone * body + 15 * _noise(rng, h, w, 20)
    grey = np.repeat(value[..., None], 3, axis=2)
    return _to_image(grey)


def _ultrasound(rng: np.random.Generator) -> Image.Image:
    h, w = HEIGHT, WIDTH
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = np.arctan2(x - w / 2, y + 40)
    radius = np.hypot(x - w / 2, y + 40)
    fan = (np.abs(angle) < 0.6) & (radius < h * 1.05) & (radius > 50)
    speckle = rng.gamma(1.5, 1.0, size=(h, w)).astype(np.float32)
    tissue = 80 + 60 * _noise(rng, h, w, 8)
    cyst = np.hypot(x - rng.uniform(200, 440), y - rng.uniform(200, 380)) < rng.uniform(20, 60)
    value = np.where(fan, tissue * speckle * np.where(cyst, 0.1, 1.0) * 0.6, 0)
    return _to_image(np.repeat(value[..., None], 3, axis=2))


def _fabric(rng: np.random.Generator) -> Image.Image:
    h, w = HEIGHT, WIDTH
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    period = rng.uniform(4, 12)
    weave = np.sin(x / period * np.pi) * np.sin(y / period * np.pi)
    base = np.array(_colour(rng, 30, 230), dtype=np.float32)
    folds = 0.15 * _noise(rng, h, w, 4)
    pixels = base * (0.85 + 0.1 * weave[..., None] + folds[..., None])
    return _to_image(pixels + rng.normal(0, 4, size=pixels.shape))


def _stone(rng: np.random.Generator) -> Image.Image:
    h, w = HEIGHT, WIDTH
    a = _noise(rng, h, w, 8) + 0.5 * _noise(rng, h, w, 30) + 0.25 * _noise(rng, h, w, 100)
    veins = np.abs(np.sin(6 * _noise(rng, h, w, 5) + 3 * a)) < 0.08
    base = np.array(_colour(rng, 110, 230), dtype=np.float32)
    pixels = base * (0.85 + 0.12 * a[..., None]) - 60 * veins[..., None]
    return _to_image(pixels)


def _fur(rng: np.random.Generator) -> Image.Image:
    h, w = HEIGHT, WIDTH
    strands = rng.normal(0, 1, size=(h, w)).astype(np.float32)
    img = Image.fromarray(((strands + 3) * 40).clip(0, 255).astype(np.uint8), "L")
    img = img.filter(ImageFilter.BoxBlur(1)).resize((w // 8, h), Image.Resampling.BILINEAR).resize((w, h))
    img = img.rotate(float(rng.uniform(-40, 40)), resample=Image.Resampling.BILINEAR, expand=False)
    stripes = np.asarray(img, dtype=np.float32) / 255.0
    base = np.array([rng.uniform(120, 230), rng.uniform(70, 160), rng.uniform(20, 90)], dtype=np.float32)
    patches = (0.5 + 0.5 * _noise(rng, h, w, 5))[..., None]
    pixels = base * (0.4 + 0.8 * stripes[..., None]) * (0.6 + 0.5 * patches)
    return _to_image(pixels)


def _food(rng: np.random.Generator) -> Image.Image:
    image = _to_image(np.array(_colour(rng, 60, 200), dtype=np.float32) + np.zeros((HEIGHT, WIDTH, 3)) + 10 * _noise(rng, HEIGHT, WIDTH, 6)[..., None])
    draw = ImageDraw.Draw(image)
    cx, cy, r = WIDTH / 2 + rng.uniform(-60, 60), HEIGHT / 2 + rng.uniform(-40, 40), rng.uniform(150, 220)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(245, 245, 240), outline=(200, 200, 200), width=4)
    for _ in range(int(rng.integers(5, 40))):
        pr = rng.uniform(8, 45)
        px, py = cx + rng.uniform(-0.6, 0.6) * r, cy + rng.uniform(-0.6, 0.6) * r
        palette = [(200, 40, 30), (240, 180, 40), (60, 140, 50), (150, 90, 40), (230, 120, 60), (250, 230, 200)]
        draw.ellipse((px - pr, py - pr * rng.uniform(0.5, 1), px + pr, py + pr), fill=palette[int(rng.integers(0, len(palette)))])
    return image.filter(ImageFilter.GaussianBlur(1))


def _landscape(rng: np.random.Generator) -> Image.Image:
    h, w = HEIGHT, WIDTH
    horizon = int(rng.uniform(0.3, 0.7) * h)
    y = np.arange(h, dtype=np.float32)[:, None, None]
    sky = np.array([90, 150, 230], np.float32) + (y / max(horizon, 1)) * np.array([80, 60, 20], np.float32)
    ground_colour = np.array(_colour(rng, 40, 170), dtype=np.float32)
    ground = ground_colour * (0.8 + 0.2 * _noise(rng, h, w, 30))[..., None]
    ridge = horizon + (30 * _noise(rng, 1, w, 8)[0]).astype(int)
    mask = np.arange(h)[:, None] > ridge[None, :]
    pixels = np.where(mask[..., None], ground, np.broadcast_to(sky, (h, w, 3)))
    return _to_image(pixels + rng.normal(0, 3, size=pixels.shape))


def _sand(rng: np.random.Generator) -> Image.Image:
    h, w = HEIGHT, WIDTH
    ripples = np.sin((np.mgrid[0:h, 0:w][0] + 20 * _noise(rng, h, w, 6)) / rng.uniform(6, 16))
    base = np.array([rng.uniform(190, 235), rng.uniform(160, 200), rng.uniform(110, 150)], dtype=np.float32)
    pixels = base * (0.9 + 0.06 * ripples[..., None]) + rng.normal(0, 8, size=(h, w, 3))
    return _to_image(pixels)


FAMILIES: dict[str, Callable[[np.random.Generator], Image.Image]] = {
    "wood": _wood,
    "red_disc_on_beige": _disc_on_beige,
    "shapes": _shapes,
    "document": _document,
    "chart": _chart,
    "xray": _xray,
    "ultrasound": _ultrasound,
    "fabric": _fabric,
    "stone": _stone,
    "fur": _fur,
    "food": _food,
    "landscape": _landscape,
    "sand": _sand,
}


def generate(family: str, seed: int) -> Image.Image:
    """One 640x480 RGB image of `family`, deterministic for (family, seed)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose from {sorted(FAMILIES)}")
    salt = sorted(FAMILIES).index(family)
    return FAMILIES[family](np.random.default_rng([seed, salt]))
