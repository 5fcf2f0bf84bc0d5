"""Amounts in Chinese capital numerals (大写金额), as printed on invoices: 贰佰元整.

The rules are those of the People's Bank of China for financial documents: capital digits
(壹贰叁…), 拾佰仟 within a group of four digits, 万 and 亿 between groups; one 零 stands for
any run of zeros inside the number; 整 closes an amount without 角 and 分; an amount below one
yuan starts at its first non-zero unit (伍角, 伍分).
"""

from decimal import ROUND_HALF_UP, Decimal

DIGITS = "零壹贰叁肆伍陆柒捌玖"
SMALL_UNITS = ("", "拾", "佰", "仟")
GROUP_UNITS = ("", "万", "亿", "万亿")
CENT = Decimal("0.01")
NEGATIVE = "负"
NEGATIVE_RED_LETTER = "(负数)"  # as printed on a red-letter invoice: (负数)贰佰元整


def _group(value: int) -> str:
    """0 < value < 10000 → 壹仟零贰拾 (no leading 零; the caller adds one between groups)."""
    words = []
    zero_pending = False
    for position in range(3, -1, -1):
        digit = value // 10**position % 10
        if digit == 0:
            zero_pending = bool(words)
            continue
        if zero_pending:
            words.append(DIGITS[0])
            zero_pending = False
        words.append(DIGITS[digit] + SMALL_UNITS[position])
    return "".join(words)


def _integer(value: int) -> str:
    """A whole number of yuan in capital numerals (without 元); 0 → ""."""
    if value >= 10 ** (4 * len(GROUP_UNITS)):
        raise ValueError(f"{value} is too large for capital numerals.")
    groups = []
    while value:
        groups.append(value % 10000)
        value //= 10000
    words = []
    zero_pending = False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            zero_pending = bool(words)
            continue
        # A zero between two groups (壹亿零壹万), or before a group not filling its thousands
        # (壹佰万零贰佰).
        if words and (zero_pending or group < 1000):
            words.append(DIGITS[0])
        zero_pending = False
        words.append(_group(group) + GROUP_UNITS[index])
    return "".join(words)


def amount_in_words(amount, *, negative_prefix: str = NEGATIVE) -> str:
    """``Decimal("1000200.05")`` → 壹佰万零贰佰元零伍分; negatives get ``negative_prefix``.

    The amount is rounded half up to the fen first. A float is refused: money is Decimal.
    """
    if isinstance(amount, float):
        raise TypeError("Pass money as Decimal (or str/int), never float.")
    amount = Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)
    prefix = negative_prefix if amount < 0 else ""
    fen_total = int(abs(amount) * 100)
    yuan, rest = divmod(fen_total, 100)
    jiao, fen = divmod(rest, 10)
    if fen_total == 0:
        return "零元整"
    words = _integer(yuan)
    if words:
        words += "元"
    if jiao == 0 and fen == 0:
        return prefix + words + "整"
    if jiao:
        words += DIGITS[jiao] + "角"
    elif words:
        words += DIGITS[0]  # 壹元零伍分
    if fen:
        words += DIGITS[fen] + "分"
    return prefix + words
