"""Text samples for generated records, including the unicode edge cases.

The pool mixes plain ASCII with emoji, CJK, right-to-left scripts, combining characters and
the empty string, so every text column of a generated account carries them.
"""

from __future__ import annotations

import random

#: Unicode edge-case strings (emoji incl. ZWJ sequences, CJK, RTL, combining marks).
UNICODE_SAMPLES = (
    "Deal 🚀🔥 launch",
    "Family 👨‍👩‍👧‍👦 plan",
    "東京オフィス拡張",
    "北京分公司 合同",
    "صفقة جديدة للشركة",
    "עסקה חדשה",
    "Cafe\u0301 Ame\u0301lie",  # combining acute accents
    "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǫ̗͚ text",
    "Ünïcödé Straße",
)

_WORDS = (
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay", "Soylent",
    "renewal", "upgrade", "pilot", "license", "support", "expansion", "migration", "audit",
)
_FIRST = ("Anna", "Jaan", "Mari", "John", "Aiko", "Omar", "Lea", "Pedro", "Zoë", "Søren")
_LAST = ("Tamm", "Smith", "Sato", "Haddad", "Silva", "Müller", "O'Brien", "Kask", "Nguyễn")


def sample_text(rng: random.Random, long: bool = False) -> str:
    """Return a short phrase; about 1 in 8 is a unicode edge case and 1 in 50 is empty."""
    roll = rng.random()
    if roll < 0.02:
        return ""
    if roll < 0.145:
        return rng.choice(UNICODE_SAMPLES)
    words = rng.randint(6, 14) if long else rng.randint(1, 3)
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def person_name(rng: random.Random) -> tuple[str, str]:
    """Return a (first, last) name pair."""
    return rng.choice(_FIRST), rng.choice(_LAST)
