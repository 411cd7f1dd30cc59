"""Sentence generators: free word sequences, numbers, dates, times and commands.

Every sentence is already normalized: lowercase words separated by single spaces,
numbers spelled out (spoken_numbers.py), only letters and apostrophes."""

import re

import spoken_numbers as nums

ROOMS = ["kitchen", "bedroom", "living room", "bathroom", "garage", "office", "hallway",
         "garden", "basement"]
DEVICES = ["lights", "heating", "fan", "radio", "television", "music", "alarm", "oven",
           "coffee machine", "air conditioning"]
NAMES = ["john", "mary", "david", "sarah", "peter", "anna", "james", "linda", "michael",
         "emma", "robert", "susan", "thomas", "laura", "daniel", "alice", "mom", "dad"]
PLACES = ["the station", "the airport", "the office", "the school", "the hospital",
          "the city centre", "the beach", "the library", "home", "the park", "the museum"]
UNITS = ["seconds", "minutes", "hours", "days", "weeks"]
THINGS = ["milk", "bread", "eggs", "coffee", "tea", "apples", "rice", "cheese", "butter",
          "water", "juice", "paper", "batteries", "flowers", "tickets"]

COMMANDS = [
    "turn on the {device} in the {room}",
    "turn off the {device} in the {room}",
    "switch the {device} off",
    "please turn the {device} on",
    "set a timer for {n} {unit}",
    "set an alarm for {time}",
    "wake me up at {time}",
    "remind me to buy {thing} at {time}",
    "remind me to call {name} on {date}",
    "call {name}",
    "send a message to {name}",
    "what's the weather like in {place_word} tomorrow",
    "how long does it take to get to {place}",
    "navigate to {place}",
    "play some music in the {room}",
    "what time is it",
    "what's the date today",
    "don't forget the {thing}",
    "i'm going to {place} at {time}",
    "let's meet at {place} on {date}",
    "it's {time}",
    "the meeting is on {date} at {time}",
    "my number is {digits}",
    "the code is {digits}",
    "add {thing} to the shopping list",
    "i need {n} {thing}",
    "the total is {n} dollars",
    "the answer is {n}",
    "room {n} on the {ordinal} floor",
    "it costs {n} pounds and {small} pence",
    "set the temperature to {small} degrees",
    "turn the volume up to {small}",
    "the train leaves at {time} from platform {small}",
    "we were born in {year}",
    "{name} will arrive on {date}",
    "can you tell {name} that i'll be late",
]
PLACE_WORDS = ["london", "paris", "boston", "chicago", "denver", "dublin", "madrid",
               "berlin", "tokyo", "sydney", "toronto"]


def _fill(rng, template):
    slots = {
        "device": lambda: rng.choice(DEVICES),
        "room": lambda: rng.choice(ROOMS),
        "n": lambda: nums.number(rng),
        "small": lambda: nums.cardinal(rng.randint(1, 99)),
        "unit": lambda: rng.choice(UNITS),
        "time": lambda: nums.clock(rng),
        "thing": lambda: rng.choice(THINGS),
        "name": lambda: rng.choice(NAMES),
        "date": lambda: nums.date(rng),
        "place": lambda: rng.choice(PLACES),
        "place_word": lambda: rng.choice(PLACE_WORDS),
        "digits": lambda: nums.digits(rng, rng.randint(3, 8)),
        "ordinal": lambda: nums.ordinal(rng.randint(1, 30)),
        "year": lambda: nums.year(rng.randint(1900, 2099)),
    }
    return re.sub(r"\{(\w+)\}", lambda m: slots[m.group(1)](), template)


def command(rng):
    return _fill(rng, rng.choice(COMMANDS))


def free_words(rng, words, weights):
    """3..9 vocabulary words, drawn with a mild preference for frequent ones."""
    return " ".join(rng.choices(words, weights=weights, k=rng.randint(3, 9)))


def numeric(rng):
    r = rng.random()
    if r < 0.3:
        return nums.number(rng)
    if r < 0.5:
        return nums.date(rng)
    if r < 0.75:
        return nums.clock(rng)
    if r < 0.9:
        return nums.digits(rng, rng.randint(3, 10))
    return nums.year(rng.randint(1900, 2099))


def mixed(rng, words, weights):
    """Free words around a number, a date or a time."""
    a = " ".join(rng.choices(words, weights=weights, k=rng.randint(1, 4)))
    b = " ".join(rng.choices(words, weights=weights, k=rng.randint(0, 3)))
    return " ".join(p for p in (a, numeric(rng), b) if p)


KINDS = (("words", 0.45), ("command", 0.25), ("mixed", 0.15), ("numeric", 0.15))


def sentence_with_kind(rng, words, weights):
    """(kind, sentence): kind is one of KINDS' names."""
    r = rng.random()
    for kind, share in KINDS:
        r -= share
        if r < 0:
            break
    if kind == "words":
        return kind, free_words(rng, words, weights)
    if kind == "command":
        return kind, command(rng)
    if kind == "mixed":
        return kind, mixed(rng, words, weights)
    return "numeric", numeric(rng)


def sentence(rng, words, weights):
    return sentence_with_kind(rng, words, weights)[1]


def template_words():
    """Every word the template sentences can produce (for the homophone filter)."""
    import random
    rng = random.Random(0)
    seen = set()
    for _ in range(20000):
        for text in (command(rng), numeric(rng)):
            seen.update(text.split())
    for t in COMMANDS:
        seen.update(w for w in re.sub(r"\{\w+\}", " ", t).split())
    return seen


def normalize(text):
    text = text.lower().strip()
    if not re.fullmatch(r"[a-z']+( [a-z']+)*", text):
        raise ValueError(f"not normalized: {text!r}")
    return text
