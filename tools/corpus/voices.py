"""espeak-ng voice settings: accent x variant x speed x pitch, with held-out parts.

Training draws from TRAIN_VARIANTS, speeds outside HELDOUT_SPEED and pitches outside
HELDOUT_PITCH; the held-out sets (dev, test) use only HELDOUT_VARIANTS with a speed
in HELDOUT_SPEED or a pitch in HELDOUT_PITCH, so no test utterance has a voice setting
seen in training. All accents are used by both (an accent changes pronunciations the
model could not guess)."""

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


def _outside(rng, lo, hi, gap):
    while True:
        v = rng.randint(lo, hi)
        if not gap[0] <= v <= gap[1]:
            return v


def draw(rng, heldout):
    """(espeak voice name, speed, pitch)."""
    accent = rng.choice(ACCENTS)
    if heldout:
        variant = rng.choice(HELDOUT_VARIANTS)
        if rng.random() < 0.5:
            speed = rng.randint(*HELDOUT_SPEED)
            pitch = rng.randint(*PITCH)
        else:
            speed = _outside(rng, *SPEED, HELDOUT_SPEED)
            pitch = rng.randint(*HELDOUT_PITCH)
    else:
        variant = rng.choice(TRAIN_VARIANTS)
        speed = _outside(rng, *SPEED, HELDOUT_SPEED)
        pitch = _outside(rng, *PITCH, HELDOUT_PITCH)
    return f"{accent}+{variant}", speed, pitch
