"""Numbers, dates and times written out in words, the way espeak-ng (English) reads
them: "one hundred and five", "two thousand and nine", "nineteen eighty four"."""

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
        "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
        "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ORDINAL_ONES = ["zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh",
                "eighth", "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth",
                "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth"]
ORDINAL_TENS = ["", "", "twentieth", "thirtieth", "fortieth", "fiftieth", "sixtieth",
                "seventieth", "eightieth", "ninetieth"]
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def below_100(n):
    if n < 20:
        return ONES[n]
    return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])


def below_1000(n):
    hundreds, rest = divmod(n, 100)
    if hundreds == 0:
        return below_100(rest)
    words = ONES[hundreds] + " hundred"
    return words if rest == 0 else f"{words} and {below_100(rest)}"


def cardinal(n):
    """0 <= n < 1,000,000 in words, British/espeak style with "and"."""
    if n < 1000:
        return below_1000(n)
    thousands, rest = divmod(n, 1000)
    words = below_1000(thousands) + " thousand"
    if rest == 0:
        return words
    if rest < 100:
        return f"{words} and {below_100(rest)}"
    return f"{words} {below_1000(rest)}"


def ordinal(n):
    """1 <= n < 100."""
    if n < 20:
        return ORDINAL_ONES[n]
    if n % 10 == 0:
        return ORDINAL_TENS[n // 10]
    return TENS[n // 10] + " " + ORDINAL_ONES[n % 10]


def year(y):
    """1900..2099 as people say it: nineteen eighty four, two thousand and nine,
    twenty twenty three, nineteen oh five."""
    hi, lo = divmod(y, 100)
    if y >= 2000 and y < 2010:
        return "two thousand" + ("" if lo == 0 else " and " + ONES[lo])
    if lo == 0:
        return below_100(hi) + " hundred"
    if lo < 10:
        return below_100(hi) + " oh " + ONES[lo]
    return below_100(hi) + " " + below_100(lo)


def clock(rng):
    """A time of day in words."""
    h = rng.randint(1, 12)
    m = rng.choice([0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, rng.randint(1, 59)])
    style = rng.random()
    if m == 0:
        text = f"{ONES[h] if h < 20 else below_100(h)} o'clock"
    elif style < 0.3 and m in (15, 30, 45):
        text = {15: f"quarter past {below_100(h)}", 30: f"half past {below_100(h)}",
                45: f"quarter to {below_100(h % 12 + 1)}"}[m]
    elif m < 10:
        text = f"{below_100(h)} oh {ONES[m]}"
    else:
        text = f"{below_100(h)} {below_100(m)}"
    if rng.random() < 0.4:
        text += " " + rng.choice(["in the morning", "in the afternoon", "in the evening",
                                  "at night"])
    return text


def date(rng):
    month = rng.choice(MONTHS)
    day = ordinal(rng.randint(1, 28 if month == "february" else 30))
    form = rng.random()
    if form < 0.35:
        text = f"{month} {day}"
    elif form < 0.7:
        text = f"the {day} of {month}"
    else:
        text = f"{rng.choice(DAYS)} {month} {day}"
    if rng.random() < 0.5:
        text += " " + year(rng.randint(1900, 2099))
    return text


def number(rng):
    """A cardinal with a spread of magnitudes."""
    r = rng.random()
    if r < 0.3:
        return cardinal(rng.randint(0, 99))
    if r < 0.6:
        return cardinal(rng.randint(100, 999))
    if r < 0.85:
        return cardinal(rng.randint(1000, 9999))
    return cardinal(rng.randint(10000, 999999))


def digits(rng, count):
    return " ".join(ONES[rng.randint(0, 9)] for _ in range(count))
