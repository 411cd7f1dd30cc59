"""Voices of four synthesizers, with whole voices and setting bands held out.

Engines (all Debian 12 packages; mbrola and pico are in non-free):
  espeak    espeak-ng's formant voices: accent x variant x speed x pitch
  mbrola    espeak-ng driving the MBROLA diphone voices us1, us2, us3, en1
  pico      SVOX Pico (pico2wave), en-US and en-GB, with its speed and pitch markup
  festival  Festival's diphone voice ked (festvox-kdlpc16k), tempo and pitch by sox
  flite     flite's voices: never in training, only the cross-synthesizer test split

Training draws only TRAIN voices with settings outside the held-out bands; dev and test
draw only HELDOUT voices, each utterance with a held-out setting, so no dev or test
utterance has a voice seen in training. Festival is the exception: Debian 12 packages
one English Festival voice that is not a flite speaker (kal and slt are flite's own and
stay out, the issue's rab and ell voices are not in Debian 12), so ked is a training
voice and the held-out diphone voices are MBROLA's us2 and Pico's en-GB. Every espeak-ng
accent is used by both (an accent changes pronunciations the model could not guess)."""

ACCENTS = ["en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc",
           "en-gb-x-gbclan", "en-gb-x-gbcwmd"]

# espeak-ng's variants (espeak-ng --voices=variant), minus the whispering, croaking,
# robotic and deliberately distorted ones.
TRAIN_VARIANTS = [
    "Adam", "Alex", "Alicia", "Andrea", "Antonio", "Auntie", "Belinda", "Benjamin",
    "Boris", "Caleb", "David", "Denis", "Diogo", "Ed", "Edward", "Edward2", "Gene2",
    "Gustave", "Henrique", "Hugo", "Iven", "Iven2", "Iven3", "Jacky", "John", "Lee",
    "Marcelo", "Marco", "Mario", "Max", "Michel", "Miguel", "Mike", "Mr_Serious",
    "Nguyen", "Pablo", "Paul", "Pedro", "Quincy", "Rob", "Steph", "Steph3", "Storm",
    "Tweaky", "Zac", "anika", "anxiousAndy", "female1", "female2", "female4", "female5",
    "grandma", "grandpa", "klatt", "klatt2", "klatt4", "klatt5", "klatt6", "male1",
    "male2", "male3", "male5", "male6", "male7", "male8", "norbert", "sandro", "shelby",
    "travis", "victor",
]
HELDOUT_VARIANTS = ["Andy", "Annie", "Linda", "Michael", "Robert", "Steph2", "Iven4",
                    "female3", "male4", "klatt3", "Gene", "Kaukovalta"]

SPEED = (130, 200)          # espeak-ng -s, words per minute
HELDOUT_SPEED = (158, 168)
PITCH = (25, 75)            # espeak-ng -p, 0..99
HELDOUT_PITCH = (45, 53)

MBROLA_TRAIN = ["mb-us1", "mb-us3", "mb-en1"]
MBROLA_HELDOUT = ["mb-us2"]
PICO_TRAIN = ["en-US"]
PICO_HELDOUT = ["en-GB"]
PICO_SPEED = (75, 135)      # <speed level>, percent
PICO_HELDOUT_SPEED = (98, 106)
PICO_PITCH = (75, 130)      # <pitch level>, percent
PICO_HELDOUT_PITCH = (98, 104)
FESTIVAL_TRAIN = ["ked_diphone"]
TEMPO = (0.8, 1.25)         # sox tempo factor for Festival (it has no speed flag here)
CENTS = (-400, 400)         # sox pitch shift for Festival
FLITE_TEST = ["slt", "rms", "awb", "kal16"]

# Share of training utterances per engine.
TRAIN_ENGINES = {"espeak": 0.45, "mbrola": 0.25, "pico": 0.15, "festival": 0.15}
HELDOUT_ENGINES = {"espeak": 0.5, "mbrola": 0.25, "pico": 0.25}


def _outside(rng, lo, hi, gap):
    while True:
        v = rng.randint(lo, hi)
        if not gap[0] <= v <= gap[1]:
            return v


def _settings(rng, heldout, speed, speed_band, pitch, pitch_band):
    """(speed, pitch): training avoids both bands; held out uses one of them."""
    if not heldout:
        return _outside(rng, *speed, speed_band), _outside(rng, *pitch, pitch_band)
    if rng.random() < 0.5:
        return rng.randint(*speed_band), rng.randint(*pitch)
    return _outside(rng, *speed, speed_band), rng.randint(*pitch_band)


def draw_espeak(rng, heldout):
    """(espeak-ng voice name "accent+variant", speed, pitch)."""
    accent = rng.choice(ACCENTS)
    variant = rng.choice(HELDOUT_VARIANTS if heldout else TRAIN_VARIANTS)
    speed, pitch = _settings(rng, heldout, SPEED, HELDOUT_SPEED, PITCH, HELDOUT_PITCH)
    return f"{accent}+{variant}", speed, pitch


def pick_engine(rng, heldout):
    table = HELDOUT_ENGINES if heldout else TRAIN_ENGINES
    return rng.choices(list(table), weights=list(table.values()))[0]


def draw(rng, heldout, engine=None):
    """A voice as a dict: engine, voice, and the engine's settings (speed, pitch for
    espeak-ng, MBROLA and Pico; tempo, cents for Festival; none for flite)."""
    engine = engine or pick_engine(rng, heldout)
    if engine == "espeak":
        voice, speed, pitch = draw_espeak(rng, heldout)
        return {"engine": engine, "voice": voice, "speed": speed, "pitch": pitch}
    if engine == "mbrola":
        speed, pitch = _settings(rng, heldout, SPEED, HELDOUT_SPEED, PITCH, HELDOUT_PITCH)
        return {"engine": engine, "voice": rng.choice(MBROLA_HELDOUT if heldout else MBROLA_TRAIN),
                "speed": speed, "pitch": pitch}
    if engine == "pico":
        speed, pitch = _settings(rng, heldout, PICO_SPEED, PICO_HELDOUT_SPEED, PICO_PITCH,
                                 PICO_HELDOUT_PITCH)
        return {"engine": engine, "voice": rng.choice(PICO_HELDOUT if heldout else PICO_TRAIN),
                "speed": speed, "pitch": pitch}
    if engine == "festival":
        if heldout:
            raise ValueError("no held-out Festival voice (see the module docstring)")
        return {"engine": engine, "voice": rng.choice(FESTIVAL_TRAIN),
                "tempo": round(rng.uniform(*TEMPO), 3), "cents": rng.randint(*CENTS)}
    if engine == "flite":
        if not heldout:
            raise ValueError("flite voices never go into training")
        return {"engine": engine, "voice": rng.choice(FLITE_TEST)}
    raise ValueError(f"unknown engine {engine}")


def describe(v):
    """One token for utt2voice: engine:voice plus its settings."""
    if v["engine"] == "festival":
        return f"festival:{v['voice']}:tempo{v['tempo']}:cents{v['cents']}"
    if v["engine"] == "flite":
        return f"flite:{v['voice']}"
    return f"{v['engine']}:{v['voice']}:s{v['speed']}:p{v['pitch']}"
